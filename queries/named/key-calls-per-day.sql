-- name: key-calls-per-day
-- title: Tenant-key calls per day
-- description: Tenant-key calls per UTC day and operation, with how many failed and how many had no originating request (orphans).
-- param: from_ts TIMESTAMP = 1970-01-01 00:00:00 | first instant included (UTC)
-- param: to_ts TIMESTAMP = 9999-12-31 00:00:00 | first instant excluded (UTC)
-- columns: day, operation, key_topology, calls, failures, orphans
SELECT CAST(ts AS DATE) AS day, operation, key_topology, count(*) AS calls,
       count(*) FILTER (WHERE result IS DISTINCT FROM 'Success') AS failures,
       count(*) FILTER (WHERE is_orphan) AS orphans
FROM key_usage
WHERE ts >= $from_ts AND ts < $to_ts
GROUP BY ALL
ORDER BY day, operation
