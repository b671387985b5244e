-- id: orphan-key-calls
-- title: Tenant-key calls with no originating request
-- severity: high
-- lookback_days: 1
-- lookahead_days: 1
-- settle_minutes: grace_minutes
-- description: Tenant-key operations (KMSP*, KeyVault*) whose correlation-id matches no user request in the warehouse. Every legitimate use of the key is caused by a licensing request; an orphan means the key was used by something the logs do not explain, or logs are missing. Orphans are grouped into episodes (a gap of more than gap_minutes starts a new one). A key call is judged once its origin had grace_minutes to arrive: when a record at least grace_minutes newer is stored, or grace_minutes after the ingest that stored it (its arrival, so the last minutes of a closed period are judged too); until then it is awaiting origin, counted by detect --json and the report (99.9% of records arrive within 15 minutes).
-- param: min_calls INTEGER = 1 | fewest orphan calls in an episode that make a finding
-- param: gap_minutes INTEGER = 30 | a quiet gap longer than this ends an episode
-- param: grace_minutes INTEGER = 15 | minutes a key call waits for its origin, after a newer record or after its arrival
-- param: now TIMESTAMP | from the detect run: when it judges (UTC)
-- param: newest_ts TIMESTAMP | from the detect run: the newest record in the warehouse
-- columns: entity, first_ts, last_ts, summary, evidence_row_ids, window_start
WITH orphans AS (
    -- Arrival: the start of the ingest run that stored the call (none for rows stored
    -- before runs were recorded: long arrived).
    SELECT k.ts, k.row_id, k.operation
    FROM key_usage k
    JOIN requests r ON r.row_id = k.row_id
    LEFT JOIN ingest_runs i ON i.run_id = r.run_id
    WHERE k.is_orphan
      AND (k.ts <= CAST($newest_ts AS TIMESTAMP) - to_minutes($grace_minutes)
           OR i.started_at IS NULL
           OR i.started_at <= CAST($now AS TIMESTAMP) - to_minutes($grace_minutes))
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
