-- name: top-ips
-- description: The client IP addresses behind the most tenant-key calls in the period.
-- param: top INTEGER = 20 | how many rows
-- columns: c_ip, key_calls, share, users
SELECT
    c_ip,
    count(*) AS key_calls,
    round(count(*) / (SELECT count(*) FROM report_key_usage), 4) AS share,
    count(DISTINCT user_id) AS users
FROM report_key_usage
GROUP BY c_ip
ORDER BY key_calls DESC, c_ip NULLS LAST
LIMIT $top
