-- name: key-calls-by-app
-- title: Top applications causing tenant-key calls
-- description: The client applications (parsed from c_info by the client_info view) whose requests caused the most tenant-key calls, with their share. (Read from the key_calls_by_origin rollup.)
-- param: from_ts TIMESTAMP = 1970-01-01 00:00:00 | first instant included (UTC)
-- param: to_ts TIMESTAMP = 9999-12-31 00:00:00 | first instant excluded (UTC)
-- param: top INTEGER = 20 | how many rows
-- columns: app_name, os_name, calls, users, first_ts, last_ts, share
SELECT c_info_field(c_info, 'AppName') AS app_name, c_info_field(c_info, 'OSName') AS os_name,
       CAST(sum(calls) AS BIGINT) AS calls, count(DISTINCT user_id) AS users,
       min(first_ts) AS first_ts, max(last_ts) AS last_ts,
       round(sum(calls) / sum(sum(calls)) OVER (), 4) AS share
FROM key_calls_by_origin_between($from_ts, $to_ts)
GROUP BY ALL
ORDER BY calls DESC, app_name, os_name
LIMIT $top
