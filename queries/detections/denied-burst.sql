-- id: denied-burst
-- title: Burst of denied or failed requests by one account
-- severity: medium
-- description: One user's requests that did not succeed (result other than Success), grouped into bursts (a gap of more than gap_minutes starts a new one). A burst is a finding when it holds at least min_failures failures and more than baseline_factor times the user's usual bad day: the baseline_quantile of their daily failures over the baseline_days before (quiet days count as zero), so one earlier burst does not raise the bar. Days before the user's first request in the warehouse are not history: with fewer than min_history_days such days before (the first days of a collection, or a new colleague), the days around (before and after) stand in, so such a finding may change as more days arrive; with fewer than min_history_days around either, the user is in a learning period and is not judged. Service accounts from the settings are ignored.
-- lookback_days: baseline_days
-- lookahead_days: baseline_days
-- param: min_failures INTEGER = 10 | fewest failures in a burst that make a finding
-- param: gap_minutes INTEGER = 10 | a gap longer than this between failures ends a burst
-- param: baseline_days INTEGER = 14 | days of the user's own history to compare with
-- param: baseline_quantile DOUBLE = 0.8 | which of those days is the user's usual bad day
-- param: baseline_factor DOUBLE = 3.0 | a burst must exceed this many times the usual bad day
-- param: min_history_days INTEGER = 3 | days of the user's history needed to judge on the past alone
-- param: service_accounts LIST | from the settings: accounts this rule ignores
-- columns: entity, first_ts, last_ts, summary, evidence_row_ids, window_start, learning
WITH failures AS (
    SELECT user_id, ts, row_id, result
    FROM requests
    WHERE user_id IS NOT NULL AND result IS NOT NULL AND result <> 'Success'
      AND user_id NOT IN (SELECT user_id FROM service_users('requests', $service_accounts))
),
daily AS (
    SELECT user_id, ts::DATE AS day, count(*) AS value
    FROM failures GROUP BY ALL
),
bursts AS (
    SELECT user_id, session, min(ts) AS first_ts, max(ts) AS last_ts,
           min(ts)::DATE AS first_day, count(*) AS failures,
           mode(result) AS top_result, list(row_id ORDER BY ts, row_id) AS evidence_row_ids
    FROM sessions_of('failures', $gap_minutes)
    GROUP BY user_id, session
    HAVING count(*) >= $min_failures
),
span AS (
    SELECT * FROM history_span('requests', 'bursts', 'UTC')
),
judged AS (
    SELECT * FROM judged_by_baseline('bursts', 'daily', 'span', $baseline_days,
                                     $baseline_quantile, $min_history_days)
)
SELECT
    user_id AS entity,
    first_ts,
    last_ts,
    format('{} failed requests by {} in {} minutes (mostly {}); usual bad day: {} failures',
           failures, user_id, ceil(epoch(last_ts - first_ts) / 60)::BIGINT + 1,
           top_result, round(usual, 1)) AS summary,
    evidence_row_ids,
    first_ts AS window_start,
    learning
FROM judged
WHERE learning OR failures > $baseline_factor * usual
