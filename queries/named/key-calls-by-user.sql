-- name: key-calls-by-user
-- title: Top users causing tenant-key calls
-- description: The users whose requests caused the most tenant-key calls, with their share of all calls in the period; a NULL user stands for orphan and anonymous calls. (Read from the key_calls_by_origin rollup.)
-- param: from_ts TIMESTAMP = 1970-01-01 00:00:00 | first instant included (UTC)
-- param: to_ts TIMESTAMP = 9999-12-31 00:00:00 | first instant excluded (UTC)
-- param: top INTEGER = 20 | how many rows
-- columns: user_id, calls, decrypts, signs, documents, ips, first_ts, last_ts, share
SELECT user_id, CAST(sum(calls) AS BIGINT) AS calls,
       CAST(sum(decrypts) AS BIGINT) AS decrypts, CAST(sum(signs) AS BIGINT) AS signs,
       count(DISTINCT content_id) AS documents, count(DISTINCT c_ip) AS ips,
       min(first_ts) AS first_ts, max(last_ts) AS last_ts,
       round(sum(calls) / sum(sum(calls)) OVER (), 4) AS share
FROM key_calls_by_origin_between($from_ts, $to_ts)
GROUP BY user_id
ORDER BY calls DESC, user_id
LIMIT $top
