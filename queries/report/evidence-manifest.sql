-- name: evidence-manifest
-- description: Every source file whose records overlap the period (or that stored none), with its sha256, counts and a shell command that recomputes the hash from the file (run it where ingest ran: paths are as given to ingest).
-- param: from_ts TIMESTAMP | first instant included
-- param: to_ts TIMESTAMP | first instant excluded
-- columns: path, size, bytes_consumed, sha256, rows_stored, duplicates, rejects, first_ts, last_ts, ingested_at, verify_command
WITH files AS (
    SELECT *, '''' || replace(path, '''', '''\''''') || '''' AS quoted
    FROM ingested_files
    WHERE first_ts IS NULL
       OR (last_ts >= CAST($from_ts AS TIMESTAMP) AND first_ts < CAST($to_ts AS TIMESTAMP))
)
SELECT
    path, size, bytes_consumed, sha256, rows_stored, duplicates, rejects,
    first_ts, last_ts, ingested_at,
    CASE WHEN lower(path) LIKE '%.gz'
         THEN 'gzip -dc -- ' || quoted || ' | head -c ' || bytes_consumed || ' | sha256sum'
         ELSE 'head -c ' || bytes_consumed || ' -- ' || quoted || ' | sha256sum' END
        AS verify_command
FROM files
ORDER BY path
