-- name: top-apps
-- description: The client applications (from c_info) behind the most tenant-key calls in the period.
-- param: top INTEGER = 20 | how many rows
-- columns: app_name, os_name, key_calls, share, users
SELECT
    ci.app_name,
    ci.os_name,
    count(*) AS key_calls,
    round(count(*) / (SELECT count(*) FROM report_key_usage), 4) AS share,
    count(DISTINCT k.user_id) AS users
FROM report_key_usage k
LEFT JOIN client_info ci ON ci.c_info = k.c_info
GROUP BY ci.app_name, ci.os_name
ORDER BY key_calls DESC, app_name NULLS LAST, os_name NULLS LAST
LIMIT $top
