-- name: rejected-lines
-- description: Rejected data lines by file and kind of reason (quoted values in the reason replaced by …), for files whose records overlap the period or that stored no record at all; the example raw line is withheld under --pseudonymize.
-- param: from_ts TIMESTAMP | first instant included
-- param: to_ts TIMESTAMP | first instant excluded
-- param: pseudonymize BOOLEAN = false | withhold raw lines (they hold user ids and IPs)
-- columns: source_file, reason, lines, first_line, example_raw_line
SELECT
    r.source_file,
    regexp_replace(r.reason, '''[^'']*''', '''…''', 'g') AS reason,
    count(*) AS lines,
    min(r.source_line) AS first_line,
    CASE WHEN $pseudonymize THEN NULL ELSE arg_min(r.raw_line, r.source_line) END
        AS example_raw_line
FROM rejects r
LEFT JOIN ingested_files f ON f.path = r.source_file
WHERE f.first_ts IS NULL
   OR (f.last_ts >= CAST($from_ts AS TIMESTAMP) AND f.first_ts < CAST($to_ts AS TIMESTAMP))
GROUP BY ALL
ORDER BY r.source_file, first_line
