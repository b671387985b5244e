-- Generated from queries/detections/orphan-key-calls.sql by pipeline/spark/generate.py (sqlglot 30.30.0); do not edit.
/* id: orphan-key-calls */
/* title: Tenant-key calls with no originating request */
/* severity: high */
/* lookback_days: 1 */
/* lookahead_days: 1 */
/* settle_minutes: grace_minutes */
/* description: Tenant-key operations (KMSP*, KeyVault*) whose correlation-id matches no user request in the warehouse. Every legitimate use of the key is caused by a licensing request; an orphan means the key was used by something the logs do not explain, or logs are missing. Orphans are grouped into episodes (a gap of more than gap_minutes starts a new one). A key call is judged once its origin had grace_minutes to arrive: when a record at least grace_minutes newer is stored, or grace_minutes after the ingest that stored it (its arrival, so the last minutes of a closed period are judged too); until then it is awaiting origin, counted by detect --json and the report (99.9% of records arrive within 15 minutes). */
/* param: min_calls INTEGER = 1 | fewest orphan calls in an episode that make a finding */
/* param: gap_minutes INTEGER = 30 | a quiet gap longer than this ends an episode */
/* param: grace_minutes INTEGER = 15 | minutes a key call waits for its origin, after a newer record or after its arrival */
/* param: now TIMESTAMP | from the detect run: when it judges (UTC) */
/* param: newest_ts TIMESTAMP | from the detect run: the newest record in the warehouse */
/* columns: entity, first_ts, last_ts, summary, evidence_row_ids, window_start */
WITH orphans AS (
  /* Arrival: the start of the ingest run that stored the call (none for rows stored */
  /* before runs were recorded: long arrived). */
  SELECT
    k.ts,
    k.row_id,
    k.operation
  FROM key_usage AS k
  JOIN requests AS r
    ON r.row_id = k.row_id
  LEFT JOIN ingest_runs AS i
    ON i.run_id = r.run_id
  WHERE
    k.is_orphan
    AND (
      k.ts <= CAST(:newest_ts AS TIMESTAMP_NTZ) - INTERVAL (:grace_minutes) MINUTE
      OR i.started_at IS NULL
      OR i.started_at <= CAST(:now AS TIMESTAMP_NTZ) - INTERVAL (:grace_minutes) MINUTE
    )
), marked AS (
  SELECT
    *,
    COALESCE(
      ts - LAG(ts) OVER (ORDER BY ts NULLS LAST, row_id NULLS LAST) > INTERVAL (:gap_minutes) MINUTE,
      TRUE
    ) AS starts_episode
  FROM orphans
), episodes AS (
  SELECT
    *,
    SUM(CAST(starts_episode AS INT)) OVER (ORDER BY ts NULLS LAST, row_id NULLS LAST) AS episode
  FROM marked
)
SELECT
  'tenant-key' AS entity,
  MIN(ts) AS first_ts,
  MAX(ts) AS last_ts,
  IF(
    CAST(COUNT(*) AS STRING) IS NULL
    OR CAST(IF(
      SIZE(ARRAY_SORT(COLLECT_SET(operation))) = 0,
      NULL,
      ARRAY_JOIN(ARRAY_SORT(COLLECT_SET(operation)), ', ')
    ) AS STRING) IS NULL,
    NULL,
    FORMAT_STRING(
      '%s tenant-key call(s) with no originating request (%s)',
      CAST(COUNT(*) AS STRING),
      CAST(IF(
        SIZE(ARRAY_SORT(COLLECT_SET(operation))) = 0,
        NULL,
        ARRAY_JOIN(ARRAY_SORT(COLLECT_SET(operation)), ', ')
      ) AS STRING)
    )
  ) AS summary,
  IF(
    SIZE(
      TRANSFORM(
        ARRAY_SORT(
          COLLECT_LIST(STRUCT(ts AS k0, row_id AS k1, row_id AS v)),
          (l, r) -> CASE
            WHEN l.k0 IS NULL AND r.k0 IS NULL
            THEN CASE
              WHEN l.k1 IS NULL AND r.k1 IS NULL
              THEN 0
              WHEN l.k1 IS NULL
              THEN 1
              WHEN r.k1 IS NULL
              THEN -1
              WHEN l.k1 < r.k1
              THEN -1
              WHEN l.k1 > r.k1
              THEN 1
              ELSE 0
            END
            WHEN l.k0 IS NULL
            THEN 1
            WHEN r.k0 IS NULL
            THEN -1
            WHEN l.k0 < r.k0
            THEN -1
            WHEN l.k0 > r.k0
            THEN 1
            ELSE CASE
              WHEN l.k1 IS NULL AND r.k1 IS NULL
              THEN 0
              WHEN l.k1 IS NULL
              THEN 1
              WHEN r.k1 IS NULL
              THEN -1
              WHEN l.k1 < r.k1
              THEN -1
              WHEN l.k1 > r.k1
              THEN 1
              ELSE 0
            END
          END
        ),
        s -> s.v
      )
    ) = 0,
    NULL,
    TRANSFORM(
      ARRAY_SORT(
        COLLECT_LIST(STRUCT(ts AS k0, row_id AS k1, row_id AS v)),
        (l, r) -> CASE
          WHEN l.k0 IS NULL AND r.k0 IS NULL
          THEN CASE
            WHEN l.k1 IS NULL AND r.k1 IS NULL
            THEN 0
            WHEN l.k1 IS NULL
            THEN 1
            WHEN r.k1 IS NULL
            THEN -1
            WHEN l.k1 < r.k1
            THEN -1
            WHEN l.k1 > r.k1
            THEN 1
            ELSE 0
          END
          WHEN l.k0 IS NULL
          THEN 1
          WHEN r.k0 IS NULL
          THEN -1
          WHEN l.k0 < r.k0
          THEN -1
          WHEN l.k0 > r.k0
          THEN 1
          ELSE CASE
            WHEN l.k1 IS NULL AND r.k1 IS NULL
            THEN 0
            WHEN l.k1 IS NULL
            THEN 1
            WHEN r.k1 IS NULL
            THEN -1
            WHEN l.k1 < r.k1
            THEN -1
            WHEN l.k1 > r.k1
            THEN 1
            ELSE 0
          END
        END
      ),
      s -> s.v
    )
  ) AS evidence_row_ids,
  MIN(ts) AS window_start
FROM episodes
GROUP BY
  episode
HAVING
  COUNT(*) >= :min_calls
