-- name: sessions_of
-- description: The rows of table t (columns user_id, ts, row_id at least) with a column session: a user's rows belong to one session while each follows the one before by at most gap_minutes (numbered from 1 per user, in ts, row_id order). `FROM sessions_of(my_cte, $gap_minutes)`.
CREATE OR REPLACE MACRO sessions_of(t, gap_minutes) AS TABLE
SELECT * EXCLUDE (starts_session),
       sum(starts_session::INTEGER) OVER (PARTITION BY user_id ORDER BY ts, row_id) AS session
FROM (
    SELECT *,
           coalesce(ts - lag(ts) OVER (PARTITION BY user_id ORDER BY ts, row_id)
                    > to_minutes(gap_minutes), true) AS starts_session
    FROM query_table(t)
)
