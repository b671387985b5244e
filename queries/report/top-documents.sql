-- name: top-documents
-- description: The protected documents (content_id, with their most frequent file name) behind the most tenant-key calls in the period.
-- param: top INTEGER = 20 | how many rows
-- columns: content_id, file_name, key_calls, share, users
SELECT
    content_id,
    mode(file_name) AS file_name,
    count(*) AS key_calls,
    round(count(*) / (SELECT count(*) FROM report_key_usage), 4) AS share,
    count(DISTINCT user_id) AS users
FROM report_key_usage
GROUP BY content_id
ORDER BY key_calls DESC, content_id NULLS LAST
LIMIT $top
