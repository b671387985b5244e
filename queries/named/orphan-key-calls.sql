-- name: orphan-key-calls
-- description: Tenant-key calls whose correlation-id matches no user request.
-- param: from_ts TIMESTAMP = 1970-01-01 00:00:00 | first instant included
-- param: to_ts TIMESTAMP = 9999-12-31 00:00:00 | first instant excluded
-- columns: ts, operation, key_topology, result, correlation_id, row_id, source_file, source_line
SELECT ts, operation, key_topology, result, correlation_id, row_id, source_file, source_line
FROM key_usage
WHERE is_orphan AND ts >= CAST($from_ts AS TIMESTAMP) AND ts < CAST($to_ts AS TIMESTAMP)
ORDER BY ts, row_id
