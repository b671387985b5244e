-- name: who-opened-document
-- title: Who opened a document
-- description: Every licence request for one document (by content-id or file name): who, when, from which IP and application, and whether it succeeded.
-- param: document VARCHAR | content-id ({GUID}, braces optional) or file name (case-insensitive; % and _ are wildcards)
-- param: from_ts TIMESTAMP = 1970-01-01 00:00:00 | first instant included (UTC)
-- param: to_ts TIMESTAMP = 9999-12-31 00:00:00 | first instant excluded (UTC)
-- param: open_types LIST = [] | request types that count as opening a document (comma-separated); by default those the request_types catalogue marks opens_document
-- columns: ts, user_id, result, request_type, content_id, file_name, owner_email, c_ip, app_name, os_name, row_id
WITH docs AS (
    -- A file name is logged on some rows only: resolve it to the document's content-ids first.
    SELECT DISTINCT content_id
    FROM requests
    WHERE content_id IS NOT NULL
      AND (lower(trim(content_id, '{}')) = lower(trim($document, '{} '))
           OR lower(file_name) = lower($document)
           OR file_name ILIKE $document)
)
SELECT r.ts, r.user_id, r.result, r.request_type, r.content_id, r.file_name, r.owner_email,
       r.c_ip, ci.app_name, ci.os_name, r.row_id
FROM requests r
JOIN docs USING (content_id)
LEFT JOIN client_info ci USING (c_info)
WHERE CASE WHEN len($open_types) = 0
           THEN r.request_type IN (SELECT name FROM request_types WHERE opens_document)
           ELSE list_contains($open_types, r.request_type) END
  AND r.ts >= $from_ts AND r.ts < $to_ts
ORDER BY r.ts, r.row_id
