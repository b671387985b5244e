-- name: key-calls-by-operation
-- description: Tenant-key calls in the period by operation and key topology, with failures, orphans and share of all calls (from the key_calls_by_time rollup).
-- param: from_ts TIMESTAMP | first instant included
-- param: to_ts TIMESTAMP | first instant excluded
-- columns: operation, key_topology, key_calls, failed_calls, orphan_calls, share
SELECT
    operation, key_topology,
    CAST(sum(calls) AS BIGINT) AS key_calls,
    CAST(sum(failures) AS BIGINT) AS failed_calls,
    CAST(sum(orphans) AS BIGINT) AS orphan_calls,
    round(sum(calls) / sum(sum(calls)) OVER (), 4) AS share
FROM key_calls_by_time_between($from_ts, $to_ts)
GROUP BY operation, key_topology
ORDER BY key_calls DESC, operation
