-- name: top-users
-- description: The users whose requests caused the most tenant-key calls in the period (NULL = no originating user: orphans and anonymous requests).
-- param: top INTEGER = 20 | how many rows
-- columns: user_id, key_calls, share, documents, first_ts, last_ts
SELECT
    user_id,
    count(*) AS key_calls,
    round(count(*) / (SELECT count(*) FROM report_key_usage), 4) AS share,
    count(DISTINCT content_id) AS documents,
    min(ts) AS first_ts,
    max(ts) AS last_ts
FROM report_key_usage
GROUP BY user_id
ORDER BY key_calls DESC, user_id NULLS LAST
LIMIT $top
