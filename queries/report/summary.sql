-- name: summary
-- description: Headline numbers of the report period.
-- param: from_ts TIMESTAMP = 1970-01-01 00:00:00 | first instant included
-- param: to_ts TIMESTAMP = 9999-12-31 00:00:00 | first instant excluded
-- columns: first_ts, last_ts, requests, users, key_calls, orphan_key_calls, findings
SELECT
    (SELECT min(ts) FROM requests WHERE ts >= CAST($from_ts AS TIMESTAMP) AND ts < CAST($to_ts AS TIMESTAMP)) AS first_ts,
    (SELECT max(ts) FROM requests WHERE ts >= CAST($from_ts AS TIMESTAMP) AND ts < CAST($to_ts AS TIMESTAMP)) AS last_ts,
    (SELECT count(*) FROM requests WHERE ts >= CAST($from_ts AS TIMESTAMP) AND ts < CAST($to_ts AS TIMESTAMP)) AS requests,
    (SELECT count(DISTINCT user_id) FROM requests WHERE ts >= CAST($from_ts AS TIMESTAMP) AND ts < CAST($to_ts AS TIMESTAMP)) AS users,
    (SELECT count(*) FROM key_usage WHERE ts >= CAST($from_ts AS TIMESTAMP) AND ts < CAST($to_ts AS TIMESTAMP)) AS key_calls,
    (SELECT count(*) FROM key_usage WHERE is_orphan AND ts >= CAST($from_ts AS TIMESTAMP) AND ts < CAST($to_ts AS TIMESTAMP)) AS orphan_key_calls,
    (SELECT count(*) FROM findings WHERE last_ts >= CAST($from_ts AS TIMESTAMP) AND first_ts < CAST($to_ts AS TIMESTAMP)) AS findings
