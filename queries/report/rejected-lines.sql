-- name: rejected-lines
-- description: Rejected data lines by file and kind of reason (quoted values in the reason replaced by …), for files whose records overlap the period or that stored no record at all; the example raw line is its first 500 characters (… marks a cut; `rejects` keeps up to 64 KiB), withheld under --pseudonymize.
-- param: from_ts TIMESTAMP | first instant included
-- param: to_ts TIMESTAMP | first instant excluded
-- param: pseudonymize BOOLEAN = false | withhold raw lines (they hold user ids and IPs)
-- columns: source_file, reason, lines, first_line, example_raw_line
WITH kinds AS (
    SELECT
        r.source_file,
        regexp_replace(r.reason, '''[^'']*''', '''…''', 'g') AS reason,
        count(*) AS lines,
        min(r.source_line) AS first_line,
        arg_min(left(r.raw_line, 501), r.source_line) AS example
    FROM rejects r
    LEFT JOIN ingested_files f ON f.path = r.source_file
    WHERE f.first_ts IS NULL
       OR (f.last_ts >= CAST($from_ts AS TIMESTAMP) AND f.first_ts < CAST($to_ts AS TIMESTAMP))
    GROUP BY ALL
)
SELECT
    source_file, reason, lines, first_line,
    CASE WHEN $pseudonymize THEN NULL
         WHEN length(example) > 500 THEN left(example, 500) || '…'
         ELSE example END AS example_raw_line
FROM kinds
ORDER BY source_file, first_line
