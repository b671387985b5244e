-- name: key-calls-by-local-hour
-- title: Tenant-key calls by local weekday and hour
-- description: Tenant-key calls by weekday and hour in the tenant's time zone (from the settings), flagged inside or outside working hours: the shape of a normal week.
-- param: timezone VARCHAR | from the settings: the tenant's time zone
-- param: work_days LIST | from the settings: ISO weekdays that are working days
-- param: work_start INTEGER | from the settings: first working hour, local
-- param: work_end INTEGER | from the settings: end of the working day, local (excluded)
-- param: from_ts TIMESTAMP = 1970-01-01 00:00:00 | first instant included (UTC)
-- param: to_ts TIMESTAMP = 9999-12-31 00:00:00 | first instant excluded (UTC)
-- columns: weekday, hour, calls, users, working_hours
WITH local AS (
    SELECT timezone($timezone, timezone('UTC', ts)) AS local_ts, user_id
    FROM key_usage
    WHERE ts >= $from_ts AND ts < $to_ts
)
SELECT isodow(local_ts) AS weekday, hour(local_ts) AS hour, count(*) AS calls,
       count(DISTINCT user_id) AS users,
       list_contains($work_days, isodow(local_ts))
           AND hour(local_ts) >= $work_start AND hour(local_ts) < $work_end AS working_hours
FROM local
GROUP BY ALL
ORDER BY weekday, hour
