-- name: key-calls-by-ip
-- title: Top client IPs causing tenant-key calls
-- description: The client IP addresses whose requests caused the most tenant-key calls, with how many users and documents came from each.
-- param: from_ts TIMESTAMP = 1970-01-01 00:00:00 | first instant included (UTC)
-- param: to_ts TIMESTAMP = 9999-12-31 00:00:00 | first instant excluded (UTC)
-- param: top INTEGER = 20 | how many rows
-- columns: c_ip, calls, users, documents, first_ts, last_ts, share
SELECT c_ip, count(*) AS calls, count(DISTINCT user_id) AS users,
       count(DISTINCT content_id) AS documents, min(ts) AS first_ts, max(ts) AS last_ts,
       round(count(*) / sum(count(*)) OVER (), 4) AS share
FROM key_usage
WHERE ts >= $from_ts AND ts < $to_ts
GROUP BY c_ip
ORDER BY calls DESC, c_ip
LIMIT $top
