-- name: key_usage
-- description: One row per tenant-key operation, joined by correlation_id to the user request that caused it (a request type that uses the key first, else any other request with that id; earliest first). No origin => orphan (origin_request_type IS NULL). Origins in other files, or ingested later, join the same way.
-- columns: ts, row_id, operation, key_topology, result, correlation_id, origin_request_type, user_id, content_id, file_name, owner_email, template_id, c_info, c_ip, origin_ts, origin_row_id, is_orphan, source_file, source_line, origin_result, origin_source_file, origin_source_line
CREATE OR REPLACE VIEW key_usage AS
WITH key_ops AS (
    SELECT r.*, t.canonical AS operation, t.key_topology
    FROM requests r
    JOIN request_types t ON t.name = r.request_type AND t.key_topology IS NOT NULL
),
origin_ids AS (
    -- The user request behind a correlation id: among the non-key requests carrying it,
    -- one whose type uses the tenant key (AcquireLicense, Certify, ...) wins over one that
    -- does not (a FindServiceLocationsForUser sharing the id); then the earliest. Only its
    -- row id is carried through the aggregate; its columns are joined back by row id.
    SELECT r.correlation_id,
           arg_min(r.row_id, (NOT coalesce(t.causes_key_use, false), r.ts, r.row_id)) AS row_id
    FROM requests r
    LEFT JOIN request_types t ON t.name = r.request_type
    WHERE r.correlation_id IN (SELECT correlation_id FROM key_ops)
      AND t.key_topology IS NULL
    GROUP BY r.correlation_id
),
origins AS (
    SELECT r.*
    FROM origin_ids o JOIN requests r ON r.row_id = o.row_id
)
SELECT k.ts, k.row_id, k.operation, k.key_topology, k.result, k.correlation_id,
       o.request_type AS origin_request_type, o.user_id, o.content_id, o.file_name,
       o.owner_email, o.template_id, o.c_info, o.c_ip,
       o.ts AS origin_ts, o.row_id AS origin_row_id,
       o.correlation_id IS NULL AS is_orphan,
       k.source_file, k.source_line,
       o.result AS origin_result, o.source_file AS origin_source_file,
       o.source_line AS origin_source_line
FROM key_ops k
LEFT JOIN origins o USING (correlation_id);
