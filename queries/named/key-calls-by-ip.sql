-- name: key-calls-by-ip
-- title: Top client IPs causing tenant-key calls
-- description: The client IP addresses whose requests caused the most tenant-key calls, with how many users and documents came from each. (Read from the key_calls_by_origin rollup.)
-- param: from_ts TIMESTAMP = 1970-01-01 00:00:00 | first instant included (UTC)
-- param: to_ts TIMESTAMP = 9999-12-31 00:00:00 | first instant excluded (UTC)
-- param: top INTEGER = 20 | how many rows
-- columns: c_ip, calls, users, documents, first_ts, last_ts, share
SELECT c_ip, CAST(sum(calls) AS BIGINT) AS calls, count(DISTINCT user_id) AS users,
       count(DISTINCT content_id) AS documents, min(first_ts) AS first_ts,
       max(last_ts) AS last_ts,
       round(sum(calls) / sum(sum(calls)) OVER (), 4) AS share
FROM key_calls_by_origin_between($from_ts, $to_ts)
GROUP BY c_ip
ORDER BY calls DESC, c_ip
LIMIT $top
