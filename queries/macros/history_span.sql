-- name: history_span
-- description: For each user_id of table users (usually the rule's sessions), the first day the user appears in table t (usually requests) and the last day of the whole collection in t, both as local dates in time zone tz ('UTC' for UTC days): the span judged_by_baseline counts days in (a day before a user's first request is not history). `span AS (SELECT * FROM history_span('requests', 'sessions', 'UTC'))`.
CREATE OR REPLACE MACRO history_span(t, users, tz) AS TABLE
SELECT user_id, timezone(tz, timezone('UTC', min(ts)))::DATE AS first_day,
       (SELECT timezone(tz, timezone('UTC', max(ts)))::DATE FROM query_table(t)) AS last_day
FROM query_table(t)
WHERE user_id IN (SELECT user_id FROM query_table(users))
GROUP BY user_id
