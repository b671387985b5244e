-- id: denied-burst
-- title: Burst of denied or failed requests by one account
-- severity: medium
-- lookback_days: baseline_days
-- lookahead_days: 1
-- description: One user's requests that did not succeed (result other than Success), grouped into bursts (a gap of more than gap_minutes starts a new one). A burst is a finding when it holds at least min_failures failures and more than baseline_factor times the user's usual bad day: the baseline_quantile of their daily failures over the baseline_days before (quiet days count as zero), so one earlier burst does not raise the bar. Service accounts from the settings are ignored.
-- param: min_failures INTEGER = 10 | fewest failures in a burst that make a finding
-- param: gap_minutes INTEGER = 10 | a gap longer than this between failures ends a burst
-- param: baseline_days INTEGER = 14 | days of the user's own history to compare with
-- param: baseline_quantile DOUBLE = 0.8 | which of those days is the user's usual bad day
-- param: baseline_factor DOUBLE = 3.0 | a burst must exceed this many times the usual bad day
-- param: service_accounts LIST | from the settings: accounts this rule ignores
-- columns: entity, first_ts, last_ts, summary, evidence_row_ids, window_start
WITH service AS MATERIALIZED (
    SELECT user_id FROM (SELECT DISTINCT user_id FROM requests WHERE user_id IS NOT NULL)
    WHERE coalesce(list_bool_or(list_transform($service_accounts, lambda p: user_id ILIKE p)), false)
),
failures AS (
    SELECT user_id, ts, row_id, result
    FROM requests
    WHERE user_id IS NOT NULL AND result IS NOT NULL AND result <> 'Success'
      AND user_id NOT IN (SELECT user_id FROM service)
),
daily AS (
    SELECT user_id, ts::DATE AS day, count(*) AS failures
    FROM failures GROUP BY ALL
),
marked AS (
    SELECT *,
           coalesce(ts - lag(ts) OVER w > to_minutes($gap_minutes), true) AS starts_burst
    FROM failures
    WINDOW w AS (PARTITION BY user_id ORDER BY ts, row_id)
),
numbered AS (
    SELECT *, sum(starts_burst::INTEGER) OVER (PARTITION BY user_id ORDER BY ts, row_id) AS burst
    FROM marked
),
bursts AS (
    SELECT user_id, burst, min(ts) AS first_ts, max(ts) AS last_ts, count(*) AS failures,
           mode(result) AS top_result, list(row_id ORDER BY ts, row_id) AS evidence_row_ids
    FROM numbered
    GROUP BY user_id, burst
    HAVING count(*) >= $min_failures
),
baseline AS (
    SELECT b.user_id, b.burst,
           quantile_cont(coalesce(d.failures, 0), $baseline_quantile) AS usual
    FROM bursts b
    CROSS JOIN range(1, $baseline_days + 1) AS back(n)
    LEFT JOIN daily d ON d.user_id = b.user_id AND d.day = b.first_ts::DATE - back.n::INTEGER
    GROUP BY b.user_id, b.burst
)
SELECT
    b.user_id AS entity,
    b.first_ts,
    b.last_ts,
    format('{} failed requests by {} in {} minutes (mostly {}); usual bad day: {} failures',
           b.failures, b.user_id,
           ceil(epoch(b.last_ts - b.first_ts) / 60)::BIGINT + 1,
           b.top_result, u.usual) AS summary,
    b.evidence_row_ids,
    b.first_ts AS window_start
FROM bursts b
JOIN baseline u USING (user_id, burst)
WHERE b.failures > $baseline_factor * u.usual
