-- name: documents-opened-by-user
-- title: Documents a user opened
-- description: Every document one user asked a licence for in a period: when, which document, from which IP and application, and the result.
-- param: user VARCHAR | user id as logged (case-insensitive), e.g. kim@contoso.example
-- param: from_ts TIMESTAMP = 1970-01-01 00:00:00 | first instant included (UTC)
-- param: to_ts TIMESTAMP = 9999-12-31 00:00:00 | first instant excluded (UTC)
-- param: open_types LIST = [] | request types that count as opening a document (comma-separated); by default those the request_types catalogue marks opens_document
-- columns: ts, content_id, file_name, owner_email, request_type, result, c_ip, app_name, os_name, row_id
SELECT r.ts, r.content_id, r.file_name, r.owner_email, r.request_type, r.result, r.c_ip,
       ci.app_name, ci.os_name, r.row_id
FROM requests r
LEFT JOIN client_info ci USING (c_info)
WHERE lower(r.user_id) = lower(trim($user))
  AND CASE WHEN len($open_types) = 0
           THEN r.request_type IN (SELECT name FROM request_types WHERE opens_document)
           ELSE list_contains($open_types, r.request_type) END
  AND r.ts >= $from_ts AND r.ts < $to_ts
ORDER BY r.ts, r.row_id
