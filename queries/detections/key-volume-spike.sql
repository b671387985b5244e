-- id: key-volume-spike
-- title: Spike in tenant-key calls
-- severity: medium
-- description: Tenant-key calls per UTC hour compared with the tenant's own usual busiest hour: the baseline_quantile (0.8: a busy but ordinary day) of each day's busiest hour over the baseline_days before (local days with key calls, time zone from the settings). An hour is a spike when it has at least min_calls calls and more than baseline_factor times that usual peak. The quantile leaves out an earlier spike or two, the tenant's quiet nights and weekends do not lower the bar for a busy but normal night, and a tenant moving to its own key over weeks ramps up too slowly to fire. In the first days of a collection, with fewer than min_history_days earlier days of key calls, the days around the hour (before and after) stand in, so such a finding may change as more days arrive; with fewer than min_history_days days of key calls around either, the tenant is in a learning period and its hours are not judged. Consecutive spike hours form one finding.
-- lookback_days: baseline_days
-- lookahead_days: baseline_days
-- param: min_calls INTEGER = 50 | fewest key calls in an hour that can be a spike
-- param: baseline_days INTEGER = 14 | days of the tenant's history to compare with
-- param: baseline_quantile DOUBLE = 0.8 | which day's busiest hour is the usual one (quiet days and earlier spikes fall outside 0.8)
-- param: baseline_factor DOUBLE = 3.0 | a spike exceeds this many times the usual busiest hour
-- param: min_history_days INTEGER = 3 | earlier days with key calls needed to judge an hour on its past alone
-- param: timezone VARCHAR | from the settings: the tenant's time zone (where its days begin)
-- param: judge_from TIMESTAMP | from the detect run: the first instant whose hours are judged (the baselines read all they are given)
-- param: judge_to TIMESTAMP | from the detect run: the first instant after them
-- columns: entity, first_ts, last_ts, summary, evidence_row_ids, window_start, learning
WITH calls AS (
    SELECT ts, row_id, date_trunc('hour', ts) AS hour
    FROM requests
    WHERE request_type IN (SELECT name FROM request_types WHERE key_topology IS NOT NULL)
),
hourly AS (
    SELECT hour, count(*) AS calls, timezone($timezone, timezone('UTC', hour))::DATE AS day
    FROM calls GROUP BY hour
),
daily_peak AS (
    SELECT day, max(calls) AS peak FROM hourly GROUP BY day
),
judged AS (
    -- The usual peak from the days before; in the first days of a collection, when fewer
    -- than min_history_days precede, from the days around (before and after) instead.
    SELECT h.hour, h.calls,
           quantile_cont(p.peak, $baseline_quantile) FILTER (p.day < h.day) AS prior_peak,
           count(p.day) FILTER (p.day < h.day) AS prior_days,
           quantile_cont(p.peak, $baseline_quantile) AS around_peak,
           count(p.day) AS around_days
    FROM hourly h
    LEFT JOIN daily_peak p
           ON p.day <> h.day
          AND p.day BETWEEN h.day - $baseline_days AND h.day + $baseline_days
    WHERE h.calls >= $min_calls
      AND h.hour >= CAST($judge_from AS TIMESTAMP) AND h.hour < CAST($judge_to AS TIMESTAMP)
    GROUP BY h.hour, h.calls
),
usual AS (
    SELECT hour, calls,
           CASE WHEN prior_days >= $min_history_days THEN prior_peak ELSE around_peak END
               AS usual_peak,
           CASE WHEN prior_days >= $min_history_days THEN prior_days ELSE around_days END
               AS history_days
    FROM judged
),
spikes AS (
    SELECT *, coalesce(hour - lag(hour) OVER (ORDER BY hour) > INTERVAL 1 HOUR, true) AS starts
    FROM usual
    WHERE history_days >= $min_history_days AND calls > $baseline_factor * usual_peak
),
episodes AS (
    SELECT *, sum(starts::INTEGER) OVER (ORDER BY hour) AS episode FROM spikes
),
summaries AS (
    SELECT episode, min(hour) AS first_hour, max(hour) AS last_hour, sum(calls) AS calls,
           max(calls) AS peak, max(usual_peak) AS usual_peak
    FROM episodes GROUP BY episode
)
SELECT
    'tenant-key' AS entity,
    min(c.ts) AS first_ts,
    max(c.ts) AS last_ts,
    format('{} tenant-key calls in {} hour(s) from {} UTC; peak {} in an hour against a usual busiest hour of {}',
           s.calls, (epoch(s.last_hour - s.first_hour) / 3600)::BIGINT + 1,
           strftime(s.first_hour, '%Y-%m-%d %H:%M'), s.peak, round(s.usual_peak)::BIGINT) AS summary,
    list(c.row_id ORDER BY c.ts, c.row_id) AS evidence_row_ids,
    s.first_hour AS window_start,
    false AS learning
FROM summaries s
-- The calls of each spike hour (an equality join: a range join on the hour compared every
-- call with every episode).
JOIN episodes e USING (episode)
JOIN calls c ON c.hour = e.hour
GROUP BY s.episode, s.first_hour, s.last_hour, s.calls, s.peak, s.usual_peak
UNION ALL
SELECT 'tenant-key', min(hour), max(hour), NULL, [], min(hour), true
FROM usual
WHERE history_days < $min_history_days
HAVING count(*) > 0
