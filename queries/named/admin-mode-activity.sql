-- name: admin-mode-activity
-- title: Admin-mode activity
-- description: Every request an administrator made in admin mode (document tracking for the whole tenant or on behalf of a user), and whom they acted as.
-- param: from_ts TIMESTAMP = 1970-01-01 00:00:00 | first instant included (UTC)
-- param: to_ts TIMESTAMP = 9999-12-31 00:00:00 | first instant excluded (UTC)
-- columns: ts, admin, request_type, acting_as_user, scope, content_id, file_name, result, c_ip, row_id
SELECT ts, user_id AS admin, request_type, acting_as_user,
       CASE WHEN acting_as_user IS NULL THEN 'whole tenant' ELSE 'one user' END AS scope,
       content_id, file_name, result, c_ip, row_id
FROM requests
WHERE admin_action AND ts >= $from_ts AND ts < $to_ts
ORDER BY ts, row_id
