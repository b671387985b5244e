-- name: key-calls-per-day
-- title: Tenant-key calls per day
-- description: Tenant-key calls per UTC day and operation, with how many failed and how many had no originating request (orphans). (Read from the key_calls_by_time rollup.)
-- param: from_ts TIMESTAMP = 1970-01-01 00:00:00 | first instant included (UTC)
-- param: to_ts TIMESTAMP = 9999-12-31 00:00:00 | first instant excluded (UTC)
-- columns: day, operation, key_topology, calls, failures, orphans
SELECT CAST(bucket_start AS DATE) AS day, operation, key_topology,
       CAST(sum(calls) AS BIGINT) AS calls, CAST(sum(failures) AS BIGINT) AS failures,
       CAST(sum(orphans) AS BIGINT) AS orphans
FROM key_calls_by_time_between($from_ts, $to_ts)
GROUP BY ALL
ORDER BY day, operation
