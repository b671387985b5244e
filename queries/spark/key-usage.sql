-- Generated from queries/derive/key-usage.sql by pipeline/spark/generate.py (sqlglot 30.30.0); do not edit.
/* name: key-usage */
/* description: The attribution rule of the key_usage table, over the requests in the relation key_usage_scope: one row per tenant-key operation, joined by correlation_id to the user request that caused it (among the non-key requests carrying the id, one whose type uses the tenant key wins over one that does not, then the earliest, then the smallest row id). No origin => orphan. Ingest runs it on the requests that share a correlation id with the rows it just stored; over every request it is the from-scratch recomputation that the maintained table must equal. */
/* columns: ts, row_id, operation, key_topology, result, correlation_id, origin_request_type, user_id, content_id, file_name, owner_email, template_id, c_info, c_ip, origin_ts, origin_row_id, is_orphan, source_file, source_line, origin_result, origin_source_file, origin_source_line */
WITH kinds AS (
  /* Only the narrow columns the choice of an origin needs: under ingest's memory limit */
  /* the wide rows made the aggregate and joins spill (2.5x slower at 1.2M requests). */
  SELECT
    s.correlation_id,
    s.row_id,
    s.ts,
    NOT t.key_topology IS NULL AS is_key,
    COALESCE(t.causes_key_use, FALSE) AS causes_key_use
  FROM key_usage_scope AS s
  LEFT JOIN request_types AS t
    ON t.name = s.request_type
), origin_ids AS (
  /* Per correlation id, the origin: a type that uses the tenant key first, then the */
  /* earliest, then the smallest row id. */
  SELECT
    correlation_id,
    MIN_BY(row_id, STRUCT(NOT causes_key_use, ts, row_id)) AS row_id,
    MIN_BY(ts, STRUCT(NOT causes_key_use, ts, row_id)) AS ts
  FROM kinds
  WHERE
    NOT is_key
    AND correlation_id IN (
      SELECT
        correlation_id
      FROM kinds
      WHERE
        is_key
    )
  GROUP BY
    correlation_id
), origins AS (
  /* The winners' rows, found by their key (unique): the wide columns skip the */
  /* aggregate and the IN above. */
  SELECT
    s.*
  FROM key_usage_scope AS s
  JOIN origin_ids AS o
    ON s.correlation_id = o.correlation_id AND s.row_id = o.row_id AND s.ts = o.ts
), key_ops AS (
  SELECT
    s.*,
    t.canonical,
    t.key_topology
  FROM key_usage_scope AS s
  JOIN request_types AS t
    ON t.name = s.request_type AND NOT t.key_topology IS NULL
)
SELECT
  k.ts,
  k.row_id,
  k.canonical AS operation,
  k.key_topology,
  k.result,
  k.correlation_id,
  o.request_type AS origin_request_type,
  o.user_id,
  o.content_id,
  o.file_name,
  o.owner_email,
  o.template_id,
  o.c_info,
  o.c_ip,
  o.ts AS origin_ts,
  o.row_id AS origin_row_id,
  o.correlation_id IS NULL AS is_orphan,
  k.source_file,
  k.source_line,
  o.result AS origin_result,
  o.source_file AS origin_source_file,
  o.source_line AS origin_source_line
FROM key_ops AS k
LEFT JOIN origins AS o
  USING (correlation_id)
