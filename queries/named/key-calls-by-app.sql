-- name: key-calls-by-app
-- title: Top applications causing tenant-key calls
-- description: The client applications (parsed from c_info by the client_info view) whose requests caused the most tenant-key calls, with their share.
-- param: from_ts TIMESTAMP = 1970-01-01 00:00:00 | first instant included (UTC)
-- param: to_ts TIMESTAMP = 9999-12-31 00:00:00 | first instant excluded (UTC)
-- param: top INTEGER = 20 | how many rows
-- columns: app_name, os_name, calls, users, first_ts, last_ts, share
SELECT ci.app_name, ci.os_name, count(*) AS calls, count(DISTINCT k.user_id) AS users,
       min(k.ts) AS first_ts, max(k.ts) AS last_ts,
       round(count(*) / sum(count(*)) OVER (), 4) AS share
FROM key_usage k
LEFT JOIN client_info ci USING (c_info)
WHERE k.ts >= $from_ts AND k.ts < $to_ts
GROUP BY ALL
ORDER BY calls DESC, ci.app_name, ci.os_name
LIMIT $top
