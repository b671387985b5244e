-- name: active_suppressions
-- description: active_suppressions(at_ts): the suppressions that apply at the UTC instant at_ts (not lifted, `until` day not over), one per rule and entity (the one that lasts longest). Judged when read, so an expired suppression stops applying by itself.
CREATE OR REPLACE MACRO active_suppressions(at_ts) AS TABLE
SELECT rule, entity,
       arg_max(suppression_id, until + INTERVAL 1 DAY) AS suppression_id,
       arg_max(reason, until + INTERVAL 1 DAY) AS reason,
       arg_max(owner, until + INTERVAL 1 DAY) AS owner,
       max(until) AS until
FROM suppressions
WHERE lifted_at IS NULL AND at_ts < until + INTERVAL 1 DAY
GROUP BY rule, entity
