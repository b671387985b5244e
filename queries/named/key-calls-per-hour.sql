-- name: key-calls-per-hour
-- title: Tenant-key calls per hour
-- description: Tenant-key calls per UTC hour and operation, with failures and orphans; hours without calls are absent. (Read from the key_calls_by_time rollup.)
-- param: from_ts TIMESTAMP = 1970-01-01 00:00:00 | first instant included (UTC)
-- param: to_ts TIMESTAMP = 9999-12-31 00:00:00 | first instant excluded (UTC)
-- columns: hour, operation, key_topology, calls, failures, orphans
SELECT date_trunc('hour', bucket_start) AS hour, operation, key_topology,
       CAST(sum(calls) AS BIGINT) AS calls, CAST(sum(failures) AS BIGINT) AS failures,
       CAST(sum(orphans) AS BIGINT) AS orphans
FROM key_calls_by_time_between($from_ts, $to_ts)
GROUP BY ALL
ORDER BY hour, operation
