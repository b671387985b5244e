-- name: summary
-- description: Headline numbers of the report period: what the logs hold and how often the tenant key was used.
-- param: from_ts TIMESTAMP | first instant included
-- param: to_ts TIMESTAMP | first instant excluded
-- columns: period_start, period_end, first_ts, last_ts, requests, users, key_calls, orphan_key_calls, failed_key_calls, findings
SELECT
    CAST($from_ts AS TIMESTAMP) AS period_start,
    CAST($to_ts AS TIMESTAMP) AS period_end,
    r.first_ts, r.last_ts, r.requests, r.users,
    k.key_calls, k.orphan_key_calls, k.failed_key_calls,
    (SELECT count(*) FROM findings
     WHERE last_ts >= CAST($from_ts AS TIMESTAMP) AND first_ts < CAST($to_ts AS TIMESTAMP)) AS findings
FROM (
    SELECT min(ts) AS first_ts, max(ts) AS last_ts, count(*) AS requests,
           count(DISTINCT user_id) AS users
    FROM requests
    WHERE ts >= CAST($from_ts AS TIMESTAMP) AND ts < CAST($to_ts AS TIMESTAMP)
) r,
(
    SELECT count(*) AS key_calls,
           count(*) FILTER (WHERE is_orphan) AS orphan_key_calls,
           count(*) FILTER (WHERE result IS DISTINCT FROM 'Success') AS failed_key_calls
    FROM report_key_usage
) k
