-- name: top-documents
-- description: The protected documents (content_id, with the file name most of their calls carried; a tie goes to the first name in sort order) behind the most tenant-key calls in the period, from the key_calls_by_origin rollup.
-- param: from_ts TIMESTAMP | first instant included
-- param: to_ts TIMESTAMP | first instant excluded
-- param: top INTEGER = 20 | how many rows
-- columns: content_id, file_name, key_calls, share, users
WITH o AS (
    SELECT * FROM key_calls_by_origin_between($from_ts, $to_ts)
),
names AS (
    SELECT content_id, file_name, sum(calls) AS calls
    FROM o
    WHERE file_name IS NOT NULL
    GROUP BY ALL
),
best_name AS (
    SELECT content_id, arg_min(file_name, (-calls, file_name)) AS file_name
    FROM names
    GROUP BY content_id
),
per_document AS (
    SELECT content_id, CAST(sum(calls) AS BIGINT) AS key_calls,
           count(DISTINCT user_id) AS users
    FROM o
    GROUP BY content_id
)
SELECT
    d.content_id, b.file_name, d.key_calls,
    round(d.key_calls / sum(d.key_calls) OVER (), 4) AS share,
    d.users
FROM per_document d
LEFT JOIN best_name b ON b.content_id IS NOT DISTINCT FROM d.content_id
ORDER BY d.key_calls DESC, d.content_id NULLS LAST
LIMIT $top
