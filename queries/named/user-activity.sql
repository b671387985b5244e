-- name: user-activity
-- title: Everything a user did
-- description: Every request one user made in a period, of any type (licences, templates, document tracking, admin), with the documents and IPs involved.
-- param: user VARCHAR | user id as logged (case-insensitive)
-- param: from_ts TIMESTAMP = 1970-01-01 00:00:00 | first instant included (UTC)
-- param: to_ts TIMESTAMP = 9999-12-31 00:00:00 | first instant excluded (UTC)
-- columns: ts, request_type, result, content_id, file_name, admin_action, acting_as_user, c_ip, app_name, row_id, source_file, source_line
SELECT r.ts, r.request_type, r.result, r.content_id, r.file_name, r.admin_action,
       r.acting_as_user, r.c_ip, ci.app_name, r.row_id, r.source_file, r.source_line
FROM requests r
LEFT JOIN client_info ci USING (c_info)
WHERE lower(r.user_id) = lower(trim($user))
  AND r.ts >= $from_ts AND r.ts < $to_ts
ORDER BY r.ts, r.row_id
