-- id: off-hours-reading
-- title: Surge of protected documents read outside working hours
-- severity: medium
-- description: Successful use-licence requests (a user opening protected content) outside the tenant's working hours, in its own time zone (settings), from the user's own networks: a network block (ip_locations.block) they used on at least usual_days of the baseline_days before (in the first days of a collection, of the days around), or an address without one (private, on-premises). Reads from a hotel or a roaming carrier do not count: a person on a trip keeps the local hours there, which the tenant's clock calls night. One user's off-hours reads are grouped into sessions (a gap of more than gap_minutes starts a new one). A session is a finding when it holds at least min_reads reads and more than baseline_factor times the user's usual off-hours day: the baseline_quantile of their daily off-hours reads over the baseline_days before (quiet days count as zero), so a user who habitually works late or on a night shift is compared with their own habit, and one earlier surge does not raise the bar. Days before the user's first request in the warehouse are not history: with fewer than min_history_days such days before a session (the first days of a collection, or a new colleague), the days around it (before and after) stand in, so such a finding may change as more days arrive; with fewer than min_history_days around either, the user is in a learning period and the session is not judged. Service accounts from the settings are ignored.
-- lookback_days: baseline_days
-- lookahead_days: baseline_days
-- param: min_reads INTEGER = 20 | fewest off-hours reads in a session that make a finding (a late or night worker's ordinary session rarely holds more)
-- param: gap_minutes INTEGER = 60 | a gap longer than this between reads ends a session
-- param: baseline_days INTEGER = 14 | days of the user's own history to compare with
-- param: baseline_quantile DOUBLE = 0.8 | which of those days is the user's usual busy day (0.8: the busiest days, which may be incidents, are left out)
-- param: baseline_factor DOUBLE = 3.0 | a session must exceed this many times the usual busy day
-- param: min_history_days INTEGER = 3 | days of the user's history needed to judge a session on its past alone
-- param: usual_days INTEGER = 2 | reads count only from network blocks the user used on at least this many days of the baseline (not a hotel or roaming carrier on a trip)
-- param: timezone VARCHAR | from the settings: the tenant's time zone
-- param: work_days LIST | from the settings: ISO weekdays that are working days
-- param: work_start INTEGER | from the settings: first working hour, local
-- param: work_end INTEGER | from the settings: end of the working day, local
-- param: service_accounts LIST | from the settings: accounts this rule ignores
-- param: judge_from TIMESTAMP | from the detect run: the first instant whose reads are judged (the baselines read all they are given)
-- param: judge_to TIMESTAMP | from the detect run: the first instant after them
-- columns: entity, first_ts, last_ts, summary, evidence_row_ids, window_start, learning
WITH reads AS (
    SELECT r.user_id, r.ts, r.row_id, r.content_id, l.block, r.ts::DATE AS day,
           timezone($timezone, timezone('UTC', r.ts)) AS local_ts
    FROM requests r
    LEFT JOIN ip_locations l ON l.c_ip = r.c_ip
    WHERE r.request_type IN (SELECT name FROM request_types WHERE opens_document)
      AND r.result = 'Success' AND r.user_id IS NOT NULL
      AND r.user_id NOT IN (SELECT user_id FROM service_users('requests', $service_accounts))
),
off_hours_all AS (
    SELECT * FROM reads
    WHERE NOT (list_contains($work_days, isodow(local_ts))
               AND hour(local_ts) >= $work_start AND hour(local_ts) < $work_end)
),
block_days AS (
    -- The days each reader used each network block (any request), to tell their own
    -- networks from a hotel's or a roaming carrier's on a trip.
    SELECT DISTINCT r.user_id, l.block AS used, r.ts::DATE AS day
    FROM requests r
    JOIN ip_locations l ON l.c_ip = r.c_ip AND l.block IS NOT NULL
    WHERE r.user_id IN (SELECT DISTINCT user_id FROM off_hours_all)
),
block_use AS (
    SELECT user_id, used AS block, day, prior_days AS prior_use, around_days AS around_use
    FROM days_of_use('block_days', $baseline_days)
),
reader_active AS (
    SELECT DISTINCT user_id, 0 AS used, day FROM block_days
),
reader_days AS (
    SELECT * FROM days_of_use('reader_active', $baseline_days)
),
off_hours AS (
    -- Off-hours on the tenant's clock counts only from the reader's own networks (used on
    -- usual_days of the baseline before; in the first days, of the days around) or from
    -- addresses without a network (private, on-premises): someone reading from a hotel or a
    -- roaming carrier is on a trip and keeps the local hours there. (A reader in a learning
    -- period keeps every read: not judged, but reported.)
    SELECT o.* FROM off_hours_all o
    LEFT JOIN block_use b USING (user_id, block, day)
    LEFT JOIN reader_days d USING (user_id, day)
    WHERE o.block IS NULL OR d.around_days < $min_history_days
       OR CASE WHEN d.prior_days >= $min_history_days THEN b.prior_use
               ELSE b.around_use END >= $usual_days
),
daily AS (
    SELECT user_id, local_ts::DATE AS day, count(*) AS value
    FROM off_hours GROUP BY ALL
),
judged_reads AS (
    -- Sessions of the reads being judged only: the usual day comes from all days read.
    SELECT user_id, ts, row_id, content_id, local_ts FROM off_hours
    WHERE ts >= CAST($judge_from AS TIMESTAMP) AND ts < CAST($judge_to AS TIMESTAMP)
),
session_reads AS MATERIALIZED (
    SELECT * FROM sessions_of('judged_reads', $gap_minutes)
),
sessions AS (
    SELECT user_id, session, min(ts) AS first_ts, max(ts) AS last_ts,
           min(local_ts) AS first_local, min(local_ts)::DATE AS first_day, count(*) AS reads,
           count(DISTINCT content_id) AS documents
    FROM session_reads
    GROUP BY user_id, session
    HAVING count(*) >= $min_reads
),
span AS (
    SELECT * FROM history_span('requests', 'sessions', $timezone)
),
judged AS (
    SELECT * FROM judged_by_baseline('sessions', 'daily', 'span', $baseline_days,
                                     $baseline_quantile, $min_history_days)
),
found AS (
    SELECT * FROM judged WHERE learning OR reads > $baseline_factor * usual
)
SELECT
    f.user_id AS entity,
    f.first_ts,
    f.last_ts,
    format('{} opened {} protected documents ({} reads) outside working hours from {} local time; usual busy off-hours day: {} reads',
           f.user_id, f.documents, f.reads, strftime(f.first_local, '%a %Y-%m-%d %H:%M'),
           round(f.usual, 1)) AS summary,
    -- The session's reads, listed for the sessions found only.
    list(r.row_id ORDER BY r.ts, r.row_id) AS evidence_row_ids,
    f.first_ts AS window_start,
    f.learning
FROM found f
JOIN session_reads r USING (user_id, session)
GROUP BY f.user_id, f.session, f.first_ts, f.last_ts, f.documents, f.reads, f.first_local,
         f.usual, f.learning
