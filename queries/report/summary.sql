-- name: summary
-- description: Headline numbers of the report period: what the logs hold and how often the tenant key was used (read from the rollups requests_by_hour, users_by_day and key_calls_by_time).
-- param: from_ts TIMESTAMP | first instant included (a UTC midnight)
-- param: to_ts TIMESTAMP | first instant excluded (a UTC midnight)
-- columns: period_start, period_end, first_ts, last_ts, requests, users, key_calls, orphan_key_calls, failed_key_calls, findings
SELECT
    CAST($from_ts AS TIMESTAMP) AS period_start,
    CAST($to_ts AS TIMESTAMP) AS period_end,
    r.first_ts, r.last_ts, r.requests, u.users,
    k.key_calls, k.orphan_key_calls, k.failed_key_calls,
    (SELECT count(*) FROM findings
     WHERE last_ts >= CAST($from_ts AS TIMESTAMP) AND first_ts < CAST($to_ts AS TIMESTAMP)) AS findings
FROM (
    SELECT min(first_ts) AS first_ts, max(last_ts) AS last_ts,
           CAST(coalesce(sum(requests), 0) AS BIGINT) AS requests
    FROM requests_by_hour
    WHERE hour >= CAST($from_ts AS TIMESTAMP) AND hour < CAST($to_ts AS TIMESTAMP)
) r,
(
    SELECT count(DISTINCT user_id) AS users
    FROM users_by_day
    WHERE day >= CAST($from_ts AS DATE) AND day < CAST($to_ts AS DATE)
) u,
(
    SELECT CAST(coalesce(sum(calls), 0) AS BIGINT) AS key_calls,
           CAST(coalesce(sum(orphans), 0) AS BIGINT) AS orphan_key_calls,
           CAST(coalesce(sum(failures), 0) AS BIGINT) AS failed_key_calls
    FROM key_calls_by_time_between($from_ts, $to_ts)
) k
