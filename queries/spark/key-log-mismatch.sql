-- Generated from queries/detections/key-log-mismatch.sql by pipeline/spark/generate.py (sqlglot 30.30.0); do not edit.
/* id: key-log-mismatch */
/* title: RMS and Key Vault disagree about an hour's tenant-key calls */
/* severity: medium */
/* description: A settled UTC hour (view keyvault_reconciliation: both logs cover it and have had keyvault.arrival_minutes to arrive) in which, for one pair of operations (KeyVaultDecryptRequest-KeyDecrypt, KeyVaultSignDigest-KeySign, KeyVaultGetKeyInfoRequest-KeyGet), one log holds at least min_calls calls and the other fewer than max_share of as many: RMS used the key and Key Vault shows none or far fewer calls by the RMS identities (its log lost, the diagnostic setting off), or Key Vault shows calls by RMS that the RMS log does not (RMS's log missing). Consecutive such hours are one finding (entity tenant-key). Evidence is the Key Vault records of those hours (keyvault_events.record_id) and the RMS key calls (requests.row_id), at most evidence_limit of each. Judged over all settled hours whenever an ingest stored something since the last run. */
/* lookback_days: 0 */
/* lookahead_days: 0 */
/* judge: on-arrival */
/* needs: keyvault_events */
/* scenario: key-log-mismatch */
/* param: min_calls INTEGER = 5 | the busier log needs at least this many calls in the hour */
/* param: max_share DOUBLE = 0.5 | the other log below this share of the busier one is a mismatch */
/* param: evidence_limit INTEGER = 200 | evidence records kept of each log per finding */
/* param: rms_appids LIST | from the settings: the appids whose key use is RMS's */
/* param: tenant_keys LIST | from the settings (read by the view; bound so a change re-judges) */
/* param: arrival_minutes INTEGER | from the settings (read by the view; bound so a change re-judges) */
/* columns: entity, first_ts, last_ts, summary, evidence_row_ids, window_start */
WITH bad AS (
  SELECT
    window_start,
    window_end,
    operation,
    rms_request_type,
    rms_calls,
    kv_calls
  FROM keyvault_reconciliation
  WHERE
    grain = 'hour'
    AND settled
    AND /* the view reads these two settings from the warehouse; named here so that detect */ /* binds them and a change of either re-judges the rule */ SIZE(:tenant_keys) >= 0
    AND :arrival_minutes >= 0
    AND GREATEST(rms_calls, kv_calls) >= :min_calls
    AND LEAST(rms_calls, kv_calls) < :max_share * GREATEST(rms_calls, kv_calls)
), hours AS (
  SELECT
    window_start,
    ANY_VALUE(window_end) IGNORE NULLS AS window_end,
    SUM(rms_calls) AS rms_calls,
    SUM(kv_calls) AS kv_calls,
    IF(
      SIZE(
        TRANSFORM(
          ARRAY_SORT(
            COLLECT_LIST(
              STRUCT(
                operation AS k0,
                IF(
                  CAST(rms_calls AS STRING) IS NULL
                  OR CAST(rms_request_type AS STRING) IS NULL
                  OR CAST(kv_calls AS STRING) IS NULL
                  OR CAST(operation AS STRING) IS NULL,
                  NULL,
                  FORMAT_STRING(
                    '%s %s vs %s %s',
                    CAST(rms_calls AS STRING),
                    CAST(rms_request_type AS STRING),
                    CAST(kv_calls AS STRING),
                    CAST(operation AS STRING)
                  )
                ) AS v
              )
            ),
            (l, r) -> CASE
              WHEN l.k0 IS NULL AND r.k0 IS NULL
              THEN 0
              WHEN l.k0 IS NULL
              THEN 1
              WHEN r.k0 IS NULL
              THEN -1
              WHEN l.k0 < r.k0
              THEN -1
              WHEN l.k0 > r.k0
              THEN 1
              ELSE 0
            END
          ),
          s -> s.v
        )
      ) = 0,
      NULL,
      ARRAY_JOIN(
        TRANSFORM(
          ARRAY_SORT(
            COLLECT_LIST(
              STRUCT(
                operation AS k0,
                IF(
                  CAST(rms_calls AS STRING) IS NULL
                  OR CAST(rms_request_type AS STRING) IS NULL
                  OR CAST(kv_calls AS STRING) IS NULL
                  OR CAST(operation AS STRING) IS NULL,
                  NULL,
                  FORMAT_STRING(
                    '%s %s vs %s %s',
                    CAST(rms_calls AS STRING),
                    CAST(rms_request_type AS STRING),
                    CAST(kv_calls AS STRING),
                    CAST(operation AS STRING)
                  )
                ) AS v
              )
            ),
            (l, r) -> CASE
              WHEN l.k0 IS NULL AND r.k0 IS NULL
              THEN 0
              WHEN l.k0 IS NULL
              THEN 1
              WHEN r.k0 IS NULL
              THEN -1
              WHEN l.k0 < r.k0
              THEN -1
              WHEN l.k0 > r.k0
              THEN 1
              ELSE 0
            END
          ),
          s -> s.v
        ),
        ', '
      )
    ) AS detail
  FROM bad
  GROUP BY
    window_start
), marked AS (
  SELECT
    *,
    COALESCE(window_start <> LAG(window_end) OVER (ORDER BY window_start NULLS LAST), TRUE) AS starts_episode
  FROM hours
), episodes AS (
  SELECT
    *,
    SUM(CAST(starts_episode AS INT)) OVER (ORDER BY window_start NULLS LAST) AS episode
  FROM marked
), spans AS (
  SELECT
    episode,
    MIN(window_start) AS first_hour,
    MAX(window_end) AS end_hour,
    COUNT(*) AS hours,
    SUM(rms_calls) AS rms_calls,
    SUM(kv_calls) AS kv_calls,
    IF(
      SIZE(
        TRANSFORM(
          ARRAY_SORT(
            COLLECT_LIST(STRUCT(window_start AS k0, DATE_FORMAT(window_start, 'HH:00 ') || detail AS v)),
            (l, r) -> CASE
              WHEN l.k0 IS NULL AND r.k0 IS NULL
              THEN 0
              WHEN l.k0 IS NULL
              THEN 1
              WHEN r.k0 IS NULL
              THEN -1
              WHEN l.k0 < r.k0
              THEN -1
              WHEN l.k0 > r.k0
              THEN 1
              ELSE 0
            END
          ),
          s -> s.v
        )
      ) = 0,
      NULL,
      ARRAY_JOIN(
        TRANSFORM(
          ARRAY_SORT(
            COLLECT_LIST(STRUCT(window_start AS k0, DATE_FORMAT(window_start, 'HH:00 ') || detail AS v)),
            (l, r) -> CASE
              WHEN l.k0 IS NULL AND r.k0 IS NULL
              THEN 0
              WHEN l.k0 IS NULL
              THEN 1
              WHEN r.k0 IS NULL
              THEN -1
              WHEN l.k0 < r.k0
              THEN -1
              WHEN l.k0 > r.k0
              THEN 1
              ELSE 0
            END
          ),
          s -> s.v
        ),
        '; '
      )
    ) AS detail
  FROM episodes
  GROUP BY
    episode
), kv_evidence AS (
  SELECT
    s.episode,
    SLICE(
      IF(
        SIZE(
          TRANSFORM(
            ARRAY_SORT(
              COLLECT_LIST(STRUCT(k.ts AS k0, k.record_id AS k1, k.record_id AS v)),
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
            COLLECT_LIST(STRUCT(k.ts AS k0, k.record_id AS k1, k.record_id AS v)),
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
      ),
      1,
      :evidence_limit
    ) AS ids
  FROM spans AS s
  JOIN keyvault_events AS k
    ON k.ts >= s.first_hour AND k.ts < s.end_hour
  JOIN bad AS b
    ON k.ts >= b.window_start AND k.ts < b.window_end AND k.operation = b.operation
  WHERE
    ARRAY_CONTAINS(TRANSFORM(:rms_appids, a -> LOWER(a)), LOWER(COALESCE(k.appid, '')))
  GROUP BY
    s.episode
), rms_evidence AS (
  SELECT
    s.episode,
    SLICE(
      IF(
        SIZE(
          TRANSFORM(
            ARRAY_SORT(
              COLLECT_LIST(STRUCT(r.ts AS k0, r.row_id AS k1, r.row_id AS v)),
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
            COLLECT_LIST(STRUCT(r.ts AS k0, r.row_id AS k1, r.row_id AS v)),
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
      ),
      1,
      :evidence_limit
    ) AS ids
  FROM spans AS s
  JOIN requests AS r
    ON r.ts >= s.first_hour AND r.ts < s.end_hour
  JOIN bad AS b
    ON r.ts >= b.window_start
    AND r.ts < b.window_end
    AND r.request_type = b.rms_request_type
  GROUP BY
    s.episode
)
SELECT
  'tenant-key' AS entity,
  s.first_hour AS first_ts,
  s.end_hour - INTERVAL '1' MICROSECOND AS last_ts,
  IF(
    CAST(s.hours AS STRING) IS NULL
    OR CAST(DATE_FORMAT(s.first_hour, 'yyyy-MM-dd HH:00') AS STRING) IS NULL
    OR CAST(s.rms_calls AS STRING) IS NULL
    OR CAST(s.kv_calls AS STRING) IS NULL
    OR CAST(s.detail AS STRING) IS NULL,
    NULL,
    FORMAT_STRING(
      '%s hour(s) from %s UTC where the logs disagree: RMS %s key call(s), Key Vault %s by RMS (%s)',
      CAST(s.hours AS STRING),
      CAST(DATE_FORMAT(s.first_hour, 'yyyy-MM-dd HH:00') AS STRING),
      CAST(s.rms_calls AS STRING),
      CAST(s.kv_calls AS STRING),
      CAST(s.detail AS STRING)
    )
  ) AS summary,
  CONCAT(
    COALESCE(k.ids, CAST(ARRAY() AS ARRAY<STRING>)),
    COALESCE(r.ids, CAST(ARRAY() AS ARRAY<STRING>))
  ) AS evidence_row_ids,
  s.first_hour AS window_start
FROM spans AS s
LEFT JOIN kv_evidence AS k
  USING (episode)
LEFT JOIN rms_evidence AS r
  USING (episode)
