-- name: orphan-key-calls
-- title: Orphan tenant-key calls
-- description: Tenant-key calls whose correlation-id matches no user request: key use nobody in the logs explains.
-- param: from_ts TIMESTAMP = 1970-01-01 00:00:00 | first instant included (UTC)
-- param: to_ts TIMESTAMP = 9999-12-31 00:00:00 | first instant excluded (UTC)
-- columns: ts, operation, key_topology, result, correlation_id, row_id, source_file, source_line
SELECT ts, operation, key_topology, result, correlation_id, row_id, source_file, source_line
FROM key_usage
WHERE is_orphan AND ts >= $from_ts AND ts < $to_ts
ORDER BY ts, row_id
