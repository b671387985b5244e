-- name: key-calls-by-operation
-- description: Tenant-key calls in the period by operation and key topology, with failures, orphans and share of all calls.
-- columns: operation, key_topology, key_calls, failed_calls, orphan_calls, share
SELECT
    operation, key_topology,
    count(*) AS key_calls,
    count(*) FILTER (WHERE result IS DISTINCT FROM 'Success') AS failed_calls,
    count(*) FILTER (WHERE is_orphan) AS orphan_calls,
    round(count(*) / sum(count(*)) OVER (), 4) AS share
FROM report_key_usage
GROUP BY operation, key_topology
ORDER BY key_calls DESC, operation
