-- name: service_users
-- description: The distinct user ids of table t (usually requests) that are service accounts (is_service_account with the tenant's patterns): rules leave them out with `user_id NOT IN (SELECT user_id FROM service_users('requests', $service_accounts))`.
CREATE OR REPLACE MACRO service_users(t, patterns) AS TABLE
SELECT user_id
FROM (SELECT DISTINCT user_id FROM query_table(t) WHERE user_id IS NOT NULL)
WHERE is_service_account(user_id, patterns)
