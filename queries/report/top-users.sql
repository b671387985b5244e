-- name: top-users
-- description: The users whose requests caused the most tenant-key calls in the period (NULL = no originating user: orphans and anonymous requests), from the key_calls_by_origin rollup; user ids pseudonymised on request.
-- param: from_ts TIMESTAMP | first instant included
-- param: to_ts TIMESTAMP | first instant excluded
-- param: top INTEGER = 20 | how many rows
-- param: pseudonymize BOOLEAN = false | replace user ids and IPs by keyed hashes
-- param: key_inner BLOB | HMAC-SHA256 inner padded key (bound, never stored)
-- param: key_outer BLOB | HMAC-SHA256 outer padded key (bound, never stored)
-- columns: user_id, key_calls, share, documents, first_ts, last_ts
WITH per_user AS (
    SELECT user_id, CAST(sum(calls) AS BIGINT) AS key_calls,
           count(DISTINCT content_id) AS documents, min(first_ts) AS first_ts,
           max(last_ts) AS last_ts
    FROM key_calls_by_origin_between($from_ts, $to_ts)
    GROUP BY user_id
),
shown AS (
    SELECT
        pseudonym(user_id, $pseudonymize, $key_inner, $key_outer) AS user_id,
        key_calls,
        round(key_calls / sum(key_calls) OVER (), 4) AS share,
        documents, first_ts, last_ts
    FROM per_user
)
SELECT * FROM shown
ORDER BY key_calls DESC, user_id NULLS LAST
LIMIT $top
