-- name: is_service_account
-- description: TRUE when user_id matches one of the tenant's service-account patterns (ILIKE patterns such as 'svc-%', the setting service_accounts); FALSE for none or no patterns. Rules skip these accounts: `WHERE NOT is_service_account(user_id, $service_accounts)`.
CREATE OR REPLACE MACRO is_service_account(user_id, patterns) AS
    coalesce(list_bool_or(list_transform(patterns, lambda p: user_id ILIKE p)), false)
