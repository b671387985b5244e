-- id: key-volume-spike
-- title: Spike in tenant-key calls
-- severity: medium
-- description: Tenant-key calls per hour compared with the tenant's own history: the same local hour of day on the same kind of day (working day or not, per the settings) over the baseline_days before. An hour is a spike when it has at least min_calls calls and more than baseline_factor times the busiest such hour of the baseline. Hours are judged only once at least min_history_days comparable earlier days had key calls. Consecutive spike hours form one finding.
-- param: min_calls INTEGER = 50 | fewest key calls in an hour that can be a spike
-- param: baseline_days INTEGER = 14 | days of the tenant's history to compare with
-- param: baseline_factor DOUBLE = 2.0 | a spike exceeds this many times the busiest comparable hour
-- param: min_history_days INTEGER = 3 | comparable earlier days needed before an hour is judged
-- param: timezone VARCHAR | from the settings: the tenant's time zone
-- param: work_days LIST | from the settings: ISO weekdays that are working days
-- columns: entity, first_ts, last_ts, summary, evidence_row_ids, window_start
WITH calls AS (
    SELECT ts, row_id, date_trunc('hour', ts) AS hour
    FROM requests
    WHERE request_type IN (SELECT name FROM request_types WHERE key_topology IS NOT NULL)
),
hourly AS (
    SELECT hour, count(*) AS calls,
           hour(timezone($timezone, timezone('UTC', hour))) AS local_hour,
           list_contains($work_days, isodow(timezone($timezone, timezone('UTC', hour))))
               AS workday
    FROM calls GROUP BY hour
),
days AS (
    -- Local days with tenant-key calls: the history a key-volume baseline can stand on
    -- (a tenant that only started using its own key is not judged on an empty past).
    SELECT DISTINCT timezone($timezone, timezone('UTC', ts))::DATE AS day FROM calls
),
candidates AS (
    SELECT h.*, timezone($timezone, timezone('UTC', h.hour))::DATE AS day
    FROM hourly h WHERE h.calls >= $min_calls
),
judged AS (
    SELECT c.hour, c.calls,
           coalesce((SELECT max(b.calls) FROM hourly b
                     WHERE b.local_hour = c.local_hour AND b.workday = c.workday
                       AND b.hour < c.hour AND b.hour >= c.hour - to_days($baseline_days)), 0)
               AS baseline_max,
           (SELECT count(*) FROM days d
            WHERE d.day < c.day AND d.day >= c.day - $baseline_days
              AND list_contains($work_days, isodow(d.day)) = c.workday) AS history_days
    FROM candidates c
),
spikes AS (
    SELECT *, coalesce(hour - lag(hour) OVER (ORDER BY hour) > INTERVAL 1 HOUR, true) AS starts
    FROM judged
    WHERE history_days >= $min_history_days AND calls > $baseline_factor * baseline_max
),
episodes AS (
    SELECT *, sum(starts::INTEGER) OVER (ORDER BY hour) AS episode FROM spikes
),
summaries AS (
    SELECT episode, min(hour) AS first_hour, max(hour) AS last_hour, sum(calls) AS calls,
           max(calls) AS peak, max(baseline_max) AS baseline_max
    FROM episodes GROUP BY episode
)
SELECT
    'tenant-key' AS entity,
    min(c.ts) AS first_ts,
    max(c.ts) AS last_ts,
    format('{} tenant-key calls in {} hour(s) from {} UTC; peak {} in an hour against at most {} in comparable hours before',
           s.calls, (epoch(s.last_hour - s.first_hour) / 3600)::BIGINT + 1,
           strftime(s.first_hour, '%Y-%m-%d %H:%M'), s.peak, s.baseline_max) AS summary,
    list(c.row_id ORDER BY c.ts, c.row_id) AS evidence_row_ids,
    s.first_hour AS window_start
FROM summaries s
JOIN calls c ON c.hour BETWEEN s.first_hour AND s.last_hour
GROUP BY s.episode, s.first_hour, s.last_hour, s.calls, s.peak, s.baseline_max
