-- id: admin-browsing
-- title: Administrator browsing other users' documents in admin mode
-- severity: high
-- description: Document-tracking requests made in admin mode (admin-action True) about other people: acting as another user, or across the whole tenant. One administrator's such requests are grouped into sessions (a gap of more than gap_minutes starts a new one). A session is a finding when it looks at at least min_targets other users (or, without acting-as-user, documents) and more than baseline_factor times as many as on the administrator's usual day: the baseline_quantile of their daily count over the baseline_days before (quiet days count as zero). A helpdesk admin who acts for a user or two a day, or an admin who lists the whole tenant's documents, does not fire. Days before the user's first request in the warehouse are not history: with fewer than min_history_days such days before (the first days of a collection, or a new colleague), the days around (before and after) stand in, so such a finding may change as more days arrive; with fewer than min_history_days around either, the user is in a learning period and is not judged. Needs the 1.1 log with admin fields; service accounts from the settings are ignored.
-- lookback_days: baseline_days
-- lookahead_days: baseline_days
-- param: min_targets INTEGER = 5 | fewest distinct other users or documents looked at in a session
-- param: gap_minutes INTEGER = 15 | a gap longer than this between requests ends a session (browsing goes from one user to the next within minutes; helpdesk cases are spread over the day)
-- param: baseline_days INTEGER = 14 | days of the administrator's own history to compare with
-- param: baseline_quantile DOUBLE = 0.8 | which of those days is the administrator's usual busy day
-- param: baseline_factor DOUBLE = 2.0 | a session must exceed this many times the usual busy day
-- param: min_history_days INTEGER = 3 | days of the user's history needed to judge on the past alone
-- param: service_accounts LIST | from the settings: accounts this rule ignores
-- columns: entity, first_ts, last_ts, summary, evidence_row_ids, window_start, learning
WITH admin_mode AS (
    SELECT user_id, ts, row_id, request_type, acting_as_user,
           coalesce(lower(acting_as_user), content_id) AS target
    FROM requests
    WHERE admin_action AND user_id IS NOT NULL
      AND user_id NOT IN (SELECT user_id FROM service_users('requests', $service_accounts))
      AND lower(user_id) IS DISTINCT FROM lower(acting_as_user)
),
daily AS (
    SELECT user_id, ts::DATE AS day, count(DISTINCT target) AS value
    FROM admin_mode GROUP BY ALL
),
sessions AS (
    SELECT user_id, session, min(ts) AS first_ts, max(ts) AS last_ts,
           min(ts)::DATE AS first_day, count(*) AS requests,
           count(DISTINCT target) AS targets,
           count(DISTINCT acting_as_user) AS users_acted_for,
           list(row_id ORDER BY ts, row_id) AS evidence_row_ids
    FROM sessions_of('admin_mode', $gap_minutes)
    GROUP BY user_id, session
    HAVING count(DISTINCT target) >= $min_targets
),
span AS (
    SELECT * FROM history_span('requests', 'sessions', 'UTC')
),
judged AS (
    SELECT * FROM judged_by_baseline('sessions', 'daily', 'span', $baseline_days,
                                     $baseline_quantile, $min_history_days)
)
SELECT
    user_id AS entity,
    first_ts,
    last_ts,
    format('{} made {} admin-mode requests about {} other users or documents (acting as {} users); usual day: {}',
           user_id, requests, targets, users_acted_for, round(usual, 1)) AS summary,
    evidence_row_ids,
    first_ts AS window_start,
    learning
FROM judged
WHERE learning OR targets > $baseline_factor * usual
