-- name: requests-from-ip
-- title: Everything from one IP address
-- description: Every request that came from one client IP in a period: which users, which documents, which results.
-- param: ip VARCHAR | client IP address as logged, e.g. 198.51.100.23
-- param: from_ts TIMESTAMP = 1970-01-01 00:00:00 | first instant included (UTC)
-- param: to_ts TIMESTAMP = 9999-12-31 00:00:00 | first instant excluded (UTC)
-- columns: ts, user_id, request_type, result, content_id, file_name, app_name, row_id
SELECT r.ts, r.user_id, r.request_type, r.result, r.content_id, r.file_name, ci.app_name, r.row_id
FROM requests r
LEFT JOIN client_info ci USING (c_info)
WHERE r.c_ip = trim($ip)
  AND r.ts >= $from_ts AND r.ts < $to_ts
ORDER BY r.ts, r.row_id
