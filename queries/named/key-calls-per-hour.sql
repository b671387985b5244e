-- name: key-calls-per-hour
-- title: Tenant-key calls per hour
-- description: Tenant-key calls per UTC hour and operation, with failures and orphans; hours without calls are absent.
-- param: from_ts TIMESTAMP = 1970-01-01 00:00:00 | first instant included (UTC)
-- param: to_ts TIMESTAMP = 9999-12-31 00:00:00 | first instant excluded (UTC)
-- columns: hour, operation, key_topology, calls, failures, orphans
SELECT date_trunc('hour', ts) AS hour, operation, key_topology, count(*) AS calls,
       count(*) FILTER (WHERE result IS DISTINCT FROM 'Success') AS failures,
       count(*) FILTER (WHERE is_orphan) AS orphans
FROM key_usage
WHERE ts >= $from_ts AND ts < $to_ts
GROUP BY ALL
ORDER BY hour, operation
