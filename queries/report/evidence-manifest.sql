-- name: evidence-manifest
-- description: Every source file whose records overlap the period (or that stored none), with its sha256, counts and a shell command that recomputes the hash from the file (run it where ingest ran: paths are as given to ingest). For a file whose read bytes later changed (integrity_events), the sha256 and bytes are those read before the first change, so its command no longer prints the stored hash while the file does not hold what was stored.
-- param: from_ts TIMESTAMP | first instant included
-- param: to_ts TIMESTAMP | first instant excluded
-- columns: path, size, bytes_consumed, sha256, rows_stored, duplicates, conflicts, rejects, first_ts, last_ts, ingested_at, integrity_events, verify_command
WITH changes AS (
    SELECT path, count(*) AS events,
           arg_min(byte_end, detected_at) AS byte_end,
           arg_min(expected_sha256, detected_at) AS expected_sha256
    FROM integrity_events
    GROUP BY path
),
files AS (
    SELECT f.*, '''' || replace(f.path, '''', '''\''''') || '''' AS quoted,
           coalesce(c.events, 0) AS changes_found,
           coalesce(c.byte_end, f.bytes_consumed) AS bytes_read,
           coalesce(c.expected_sha256, f.sha256) AS read_sha256
    FROM ingested_files f
    LEFT JOIN changes c ON c.path = f.path
    WHERE f.first_ts IS NULL
       OR (f.last_ts >= CAST($from_ts AS TIMESTAMP) AND f.first_ts < CAST($to_ts AS TIMESTAMP))
)
SELECT
    path, size, bytes_read AS bytes_consumed, read_sha256 AS sha256, rows_stored, duplicates,
    coalesce(conflicts, 0) AS conflicts, rejects, first_ts, last_ts, ingested_at,
    changes_found AS integrity_events,
    CASE WHEN lower(path) LIKE '%.gz'
         THEN 'gzip -dc -- ' || quoted || ' | head -c ' || bytes_read || ' | sha256sum'
         ELSE 'head -c ' || bytes_read || ' -- ' || quoted || ' | sha256sum' END
        AS verify_command
FROM files
ORDER BY path
