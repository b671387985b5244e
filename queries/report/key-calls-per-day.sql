-- name: key-calls-per-day
-- description: Tenant-key calls per UTC day and operation, within the report period.
-- param: from_ts TIMESTAMP = 1970-01-01 00:00:00 | first instant included
-- param: to_ts TIMESTAMP = 9999-12-31 00:00:00 | first instant excluded
-- columns: day, operation, key_topology, calls
SELECT CAST(ts AS DATE) AS day, operation, key_topology, count(*) AS calls
FROM key_usage
WHERE ts >= CAST($from_ts AS TIMESTAMP) AND ts < CAST($to_ts AS TIMESTAMP)
GROUP BY ALL
ORDER BY day, operation
