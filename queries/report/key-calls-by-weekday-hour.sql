-- name: key-calls-by-weekday-hour
-- description: Tenant-key calls by weekday and hour of the tenant's local clock (settings time zone), and whether that hour is working time.
-- param: timezone VARCHAR = UTC | IANA time zone of the tenant
-- param: work_days LIST = [1, 2, 3, 4, 5] | ISO weekdays that are working days
-- param: work_start INTEGER = 8 | first working hour, inclusive
-- param: work_end INTEGER = 18 | end of the working day, exclusive
-- columns: weekday, hour, key_calls, in_working_hours
WITH local AS (
    SELECT timezone($timezone, timezone('UTC', ts)) AS lt FROM report_key_usage
)
SELECT
    isodow(lt) AS weekday,
    hour(lt) AS hour,
    count(*) AS key_calls,
    list_contains($work_days, isodow(lt)) AND hour(lt) >= $work_start AND hour(lt) < $work_end
        AS in_working_hours
FROM local
GROUP BY ALL
ORDER BY weekday, hour
