-- name: key-call-failures
-- title: Failed tenant-key calls
-- description: Tenant-key calls that did not succeed, with the user request that caused them (if any).
-- param: from_ts TIMESTAMP = 1970-01-01 00:00:00 | first instant included (UTC)
-- param: to_ts TIMESTAMP = 9999-12-31 00:00:00 | first instant excluded (UTC)
-- columns: ts, operation, key_topology, result, user_id, origin_request_type, content_id, c_ip, correlation_id, row_id
SELECT ts, operation, key_topology, result, user_id, origin_request_type, content_id, c_ip,
       correlation_id, row_id
FROM key_usage
WHERE result IS DISTINCT FROM 'Success' AND ts >= $from_ts AND ts < $to_ts
ORDER BY ts, row_id
