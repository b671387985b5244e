-- name: top-apps
-- description: The client applications (from c_info, parsed as the client_info view does) behind the most tenant-key calls in the period, from the key_calls_by_origin rollup.
-- param: from_ts TIMESTAMP | first instant included
-- param: to_ts TIMESTAMP | first instant excluded
-- param: top INTEGER = 20 | how many rows
-- columns: app_name, os_name, key_calls, share, users
WITH per_app AS (
    SELECT c_info_field(c_info, 'AppName') AS app_name,
           c_info_field(c_info, 'OSName') AS os_name,
           CAST(sum(calls) AS BIGINT) AS key_calls,
           count(DISTINCT user_id) AS users
    FROM key_calls_by_origin_between($from_ts, $to_ts)
    GROUP BY ALL
)
SELECT app_name, os_name, key_calls, round(key_calls / sum(key_calls) OVER (), 4) AS share, users
FROM per_app
ORDER BY key_calls DESC, app_name NULLS LAST, os_name NULLS LAST
LIMIT $top
