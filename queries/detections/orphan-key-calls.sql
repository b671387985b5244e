-- id: orphan-key-calls
-- title: Tenant-key calls with no originating request
-- severity: high
-- description: Tenant-key operations (KMSP*, KeyVault*) whose correlation-id matches no user request in the warehouse. Every legitimate use of the key is caused by a licensing request; an orphan means the key was used by something the logs do not explain, or logs are missing. Orphans are grouped into episodes (a gap of more than gap_minutes starts a new one); key calls in the last grace_minutes before the newest record are not judged yet, because their origin may still arrive (99.9% of records arrive within 15 minutes).
-- lookback_days: 1
-- lookahead_days: 1
-- param: min_calls INTEGER = 1 | fewest orphan calls in an episode that make a finding
-- param: gap_minutes INTEGER = 30 | a quiet gap longer than this ends an episode
-- param: grace_minutes INTEGER = 15 | key calls this close to the newest record wait for their origin
-- columns: entity, first_ts, last_ts, summary, evidence_row_ids, window_start
WITH orphans AS (
    SELECT ts, row_id, operation
    FROM key_usage
    WHERE is_orphan
      AND ts <= (SELECT max(ts) FROM requests) - to_minutes($grace_minutes)
),
marked AS (
    SELECT *,
           coalesce(ts - lag(ts) OVER (ORDER BY ts, row_id) > to_minutes($gap_minutes), true)
               AS starts_episode
    FROM orphans
),
episodes AS (
    SELECT *, sum(starts_episode::INTEGER) OVER (ORDER BY ts, row_id) AS episode
    FROM marked
)
SELECT
    'tenant-key' AS entity,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    format('{} tenant-key call(s) with no originating request ({})',
           count(*), string_agg(DISTINCT operation, ', ' ORDER BY operation)) AS summary,
    list(row_id ORDER BY ts, row_id) AS evidence_row_ids,
    min(ts) AS window_start
FROM episodes
GROUP BY episode
HAVING count(*) >= $min_calls
