-- name: key-calls-by-document
-- title: Top documents causing tenant-key calls
-- description: The documents whose opening caused the most tenant-key calls, with owner, number of users and share of all calls in the period; a NULL document stands for calls caused by requests about no document (certification, publishing) and orphans. (Read from the key_calls_by_origin rollup.)
-- param: from_ts TIMESTAMP = 1970-01-01 00:00:00 | first instant included (UTC)
-- param: to_ts TIMESTAMP = 9999-12-31 00:00:00 | first instant excluded (UTC)
-- param: top INTEGER = 20 | how many rows
-- columns: content_id, file_name, owner_email, calls, users, first_ts, last_ts, share
SELECT content_id, any_value(file_name) AS file_name, any_value(owner_email) AS owner_email,
       CAST(sum(calls) AS BIGINT) AS calls, count(DISTINCT user_id) AS users,
       min(first_ts) AS first_ts, max(last_ts) AS last_ts,
       round(sum(calls) / sum(sum(calls)) OVER (), 4) AS share
FROM key_calls_by_origin_between($from_ts, $to_ts)
GROUP BY content_id
ORDER BY calls DESC, content_id
LIMIT $top
