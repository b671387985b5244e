-- name: key-calls-by-weekday-hour
-- description: Tenant-key calls by weekday and hour of the tenant's local clock (settings time zone), and whether that hour is working time (from the 15-minute key_calls_by_time rollup: every UTC offset is a multiple of 15 minutes, so each bucket falls in one local hour).
-- param: from_ts TIMESTAMP | first instant included
-- param: to_ts TIMESTAMP | first instant excluded
-- param: timezone VARCHAR = UTC | IANA time zone of the tenant
-- param: work_days INTEGER[] = [1, 2, 3, 4, 5] | ISO weekdays that are working days
-- param: work_start INTEGER = 8 | first working hour, inclusive
-- param: work_end INTEGER = 18 | end of the working day, exclusive
-- columns: weekday, hour, key_calls, in_working_hours
WITH local AS (
    SELECT timezone($timezone, timezone('UTC', bucket_start)) AS lt, calls
    FROM key_calls_by_time_between($from_ts, $to_ts)
)
SELECT
    isodow(lt) AS weekday,
    hour(lt) AS hour,
    CAST(sum(calls) AS BIGINT) AS key_calls,
    list_contains($work_days, isodow(lt)) AND hour(lt) >= $work_start AND hour(lt) < $work_end
        AS in_working_hours
FROM local
GROUP BY ALL
ORDER BY weekday, hour
