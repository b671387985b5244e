-- name: judged_by_baseline
-- description: The rows of sessions (user_id, session, first_day) each with its user's usual day and whether the user is still learning. The usual day is the baseline_quantile of daily.value (user_id, day, value) over the baseline_days before the session's first_day; with fewer than min_history_days of them (a new collection or a new colleague), over the days around instead; with fewer than that too, learning. Only days between the user's span.first_day and span.last_day (user_id, first_day, last_day) count.
CREATE OR REPLACE MACRO judged_by_baseline(
    sessions, daily, span, baseline_days, baseline_quantile, min_history_days
) AS TABLE
WITH baseline AS (
    SELECT s.user_id, s.session,
           quantile_cont(coalesce(d.value, 0), baseline_quantile) FILTER (back.n > 0) AS prior,
           count(*) FILTER (back.n > 0) AS prior_days,
           quantile_cont(coalesce(d.value, 0), baseline_quantile) AS around,
           count(*) AS around_days
    FROM query_table(sessions) s
    JOIN query_table(span) p USING (user_id)
    CROSS JOIN range(-baseline_days, baseline_days + 1) AS back(n)
    LEFT JOIN query_table(daily) d
           ON d.user_id = s.user_id AND d.day = s.first_day - back.n::INTEGER
    WHERE back.n <> 0 AND s.first_day - back.n::INTEGER BETWEEN p.first_day AND p.last_day
    GROUP BY s.user_id, s.session
)
SELECT s.*,
       CASE WHEN b.prior_days >= min_history_days THEN b.prior ELSE b.around END AS usual,
       coalesce(b.around_days, 0) < min_history_days AS learning
FROM query_table(sessions) s
LEFT JOIN baseline b USING (user_id, session)
