-- name: days_of_use
-- description: The rows of table t (user_id, used, day: one row per day a user used something, such as a network block or a place; a constant used counts the user's active days) each with prior_days, how many other such days of the same user and used fall in the baseline_days before, and around_days, how many fall in the baseline_days before and after. Rules judge a user or a network on prior_days when there are enough of them (min_history_days), else on around_days (the first days of a collection). `FROM days_of_use('block_days', $baseline_days)`.
CREATE OR REPLACE MACRO days_of_use(t, baseline_days) AS TABLE
SELECT *,
       count(*) OVER (PARTITION BY user_id, used ORDER BY day
                      RANGE BETWEEN to_days(baseline_days) PRECEDING
                                AND to_days(1) PRECEDING) AS prior_days,
       count(*) OVER (PARTITION BY user_id, used ORDER BY day
                      RANGE BETWEEN to_days(baseline_days) PRECEDING
                                AND to_days(baseline_days) FOLLOWING) - 1 AS around_days
FROM query_table(t)
