-- id: off-hours-reading
-- title: Surge of protected documents read outside working hours
-- severity: medium
-- lookback_days: baseline_days
-- lookahead_days: 1
-- description: Successful use-licence requests (a user opening protected content) outside the tenant's working hours, in its own time zone (settings). One user's off-hours reads are grouped into sessions (a gap of more than gap_minutes starts a new one). A session is a finding when it holds at least min_reads reads and more than baseline_factor times the user's usual off-hours day: the baseline_quantile of their daily off-hours reads over the baseline_days before (quiet days count as zero), so a user who habitually works late is compared with their own habit, and one earlier surge does not raise the bar. Service accounts from the settings are ignored.
-- param: min_reads INTEGER = 10 | fewest off-hours reads in a session that make a finding
-- param: gap_minutes INTEGER = 60 | a gap longer than this between reads ends a session
-- param: baseline_days INTEGER = 14 | days of the user's own history to compare with
-- param: baseline_quantile DOUBLE = 0.8 | which of those days is the user's usual busy day (0.8: the busiest days, which may be incidents, are left out)
-- param: baseline_factor DOUBLE = 3.0 | a session must exceed this many times the usual busy day
-- param: timezone VARCHAR | from the settings: the tenant's time zone
-- param: work_days LIST | from the settings: ISO weekdays that are working days
-- param: work_start INTEGER | from the settings: first working hour, local
-- param: work_end INTEGER | from the settings: end of the working day, local
-- param: service_accounts LIST | from the settings: accounts this rule ignores
-- columns: entity, first_ts, last_ts, summary, evidence_row_ids, window_start
WITH service AS MATERIALIZED (
    SELECT user_id FROM (SELECT DISTINCT user_id FROM requests WHERE user_id IS NOT NULL)
    WHERE coalesce(list_bool_or(list_transform($service_accounts, lambda p: user_id ILIKE p)), false)
),
reads AS (
    SELECT user_id, ts, row_id, content_id, timezone($timezone, timezone('UTC', ts)) AS local_ts
    FROM requests
    WHERE request_type IN ('AcquireLicense', 'AcquirePreLicense', 'FECreateEndUserLicenseV1',
                           'BECreateEndUserLicenseV1')
      AND result = 'Success' AND user_id IS NOT NULL
      AND user_id NOT IN (SELECT user_id FROM service)
),
off_hours AS (
    SELECT * FROM reads
    WHERE NOT (list_contains($work_days, isodow(local_ts))
               AND hour(local_ts) >= $work_start AND hour(local_ts) < $work_end)
),
daily AS (
    SELECT user_id, local_ts::DATE AS day, count(*) AS reads
    FROM off_hours GROUP BY ALL
),
marked AS (
    SELECT *, coalesce(ts - lag(ts) OVER w > to_minutes($gap_minutes), true) AS starts_session
    FROM off_hours
    WINDOW w AS (PARTITION BY user_id ORDER BY ts, row_id)
),
numbered AS (
    SELECT *,
           sum(starts_session::INTEGER) OVER (PARTITION BY user_id ORDER BY ts, row_id) AS session
    FROM marked
),
sessions AS (
    SELECT user_id, session, min(ts) AS first_ts, max(ts) AS last_ts,
           min(local_ts) AS first_local, min(local_ts)::DATE AS first_day, count(*) AS reads,
           count(DISTINCT content_id) AS documents,
           list(row_id ORDER BY ts, row_id) AS evidence_row_ids
    FROM numbered
    GROUP BY user_id, session
    HAVING count(*) >= $min_reads
),
baseline AS (
    SELECT s.user_id, s.session,
           quantile_cont(coalesce(d.reads, 0), $baseline_quantile) AS usual
    FROM sessions s
    CROSS JOIN range(1, $baseline_days + 1) AS back(n)
    LEFT JOIN daily d ON d.user_id = s.user_id AND d.day = s.first_day - back.n::INTEGER
    GROUP BY s.user_id, s.session
)
SELECT
    s.user_id AS entity,
    s.first_ts,
    s.last_ts,
    format('{} opened {} protected documents ({} reads) outside working hours from {} local time; usual busy off-hours day: {} reads',
           s.user_id, s.documents, s.reads, strftime(s.first_local, '%a %Y-%m-%d %H:%M'),
           b.usual) AS summary,
    s.evidence_row_ids,
    s.first_ts AS window_start
FROM sessions s
JOIN baseline b USING (user_id, session)
WHERE s.reads > $baseline_factor * b.usual
