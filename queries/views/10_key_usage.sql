-- name: key_usage
-- description: One row per tenant-key operation, joined by correlation_id to the user request that caused it. No origin => orphan (origin_request_type IS NULL).
-- columns: ts, row_id, operation, key_topology, result, correlation_id, origin_request_type, user_id, content_id, file_name, owner_email, template_id, c_info, c_ip, origin_ts, origin_row_id, is_orphan, source_file, source_line
CREATE OR REPLACE VIEW key_usage AS
WITH key_ops AS (
    SELECT r.*, t.canonical AS operation, t.key_topology
    FROM requests r
    JOIN request_types t ON t.name = r.request_type AND t.key_topology IS NOT NULL
),
origins AS (
    -- The user request behind a correlation id: the earliest non-key request carrying it.
    SELECT correlation_id,
           arg_min(request_type, (ts, row_id)) AS request_type,
           arg_min(user_id, (ts, row_id)) AS user_id,
           arg_min(content_id, (ts, row_id)) AS content_id,
           arg_min(file_name, (ts, row_id)) AS file_name,
           arg_min(owner_email, (ts, row_id)) AS owner_email,
           arg_min(template_id, (ts, row_id)) AS template_id,
           arg_min(c_info, (ts, row_id)) AS c_info,
           arg_min(c_ip, (ts, row_id)) AS c_ip,
           min(ts) AS ts,
           arg_min(row_id, (ts, row_id)) AS row_id
    FROM requests r
    WHERE correlation_id IN (SELECT correlation_id FROM key_ops)
      AND request_type NOT IN (SELECT name FROM request_types WHERE key_topology IS NOT NULL)
    GROUP BY correlation_id
)
SELECT k.ts, k.row_id, k.operation, k.key_topology, k.result, k.correlation_id,
       o.request_type AS origin_request_type, o.user_id, o.content_id, o.file_name,
       o.owner_email, o.template_id, o.c_info, o.c_ip,
       o.ts AS origin_ts, o.row_id AS origin_row_id,
       o.correlation_id IS NULL AS is_orphan,
       k.source_file, k.source_line
FROM key_ops k
LEFT JOIN origins o USING (correlation_id);
