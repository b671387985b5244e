-- name: service_users
-- description: The distinct user ids of table t (usually requests) that are service accounts (is_service_account with the tenant's patterns): rules leave them out with `user_id NOT IN (SELECT user_id FROM service_users('requests', $service_accounts))`.
CREATE OR REPLACE MACRO service_users(t, patterns) AS TABLE
-- The patterns are matched once per distinct user, after the grouping. Written on the
-- grouped column, the test is pushed below the grouping and runs on every row (most of
-- a rule's time over months of requests); on an aggregate's result it cannot be.
SELECT user_id
FROM (
    SELECT user_id, any_value(user_id) AS grouped
    FROM query_table(t)
    WHERE user_id IS NOT NULL
    GROUP BY user_id
)
WHERE is_service_account(grouped, patterns)
