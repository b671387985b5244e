-- Generated from queries/views/30_keyvault_reconciliation.sql by pipeline/spark/generate.py (sqlglot 30.30.0); do not edit.
WITH conf AS (
  SELECT
    COALESCE(
      (
        SELECT
          TRANSFORM(FROM_JSON(value, 'ARRAY<STRING>'), a -> LOWER(a))
        FROM settings
        WHERE
          key = 'keyvault.rms_appids'
      ),
      ARRAY('00000012-0000-0000-c000-000000000000')
    ) AS rms_appids,
    COALESCE(
      (
        SELECT
          TRANSFORM(FROM_JSON(value, 'ARRAY<STRING>'), a -> LOWER(a))
        FROM settings
        WHERE
          key = 'keyvault.tenant_keys'
      ),
      CAST(CAST(ARRAY() AS ARRAY<STRING>) AS ARRAY<STRING>)
    ) AS tenant_keys,
    COALESCE(
      (
        SELECT
          CAST(value AS INT)
        FROM settings
        WHERE
          key = 'keyvault.arrival_minutes'
      ),
      30
    ) AS arrival_minutes
), pairs(rms_request_type, operation) AS (
  SELECT
    *
  FROM VALUES
    ('KeyVaultDecryptRequest', 'KeyDecrypt'),
    ('KeyVaultSignDigest', 'KeySign'),
    ('KeyVaultGetKeyInfoRequest', 'KeyGet') AS _values
), rms AS (
  SELECT
    r.ts,
    p.operation
  FROM requests AS r
  JOIN pairs AS p
    ON p.rms_request_type = r.request_type
), kv AS (
  SELECT
    k.ts,
    k.operation,
    ARRAY_CONTAINS(c.rms_appids, LOWER(COALESCE(k.appid, ''))) AS by_rms,
    COALESCE(k.http_status >= 400, FALSE) AS failed
  FROM keyvault_events AS k
  CROSS JOIN conf AS c
  WHERE
    k.operation IN (
      SELECT
        operation
      FROM pairs
    )
    AND (
      SIZE(c.tenant_keys) = 0 OR ARRAY_CONTAINS(c.tenant_keys, LOWER(k.key_name))
    )
), rms_windows AS (
  SELECT
    'minute' AS grain,
    DATE_TRUNC('MINUTE', ts) AS window_start,
    operation,
    COUNT(*) AS rms_calls
  FROM rms
  GROUP BY ALL
  UNION ALL
  SELECT
    'hour',
    DATE_TRUNC('HOUR', ts),
    operation,
    COUNT(*)
  FROM rms
  GROUP BY ALL
), kv_windows AS (
  SELECT
    'minute' AS grain,
    DATE_TRUNC('MINUTE', ts) AS window_start,
    operation,
    COUNT(*) FILTER(WHERE
      by_rms) AS kv_calls,
    COUNT(*) FILTER(WHERE
      NOT by_rms) AS kv_other_calls,
    COUNT(*) FILTER(WHERE
      by_rms AND failed) AS kv_failures
  FROM kv
  GROUP BY ALL
  UNION ALL
  SELECT
    'hour',
    DATE_TRUNC('HOUR', ts),
    operation,
    COUNT(*) FILTER(WHERE
      by_rms),
    COUNT(*) FILTER(WHERE
      NOT by_rms),
    COUNT(*) FILTER(WHERE
      by_rms AND failed)
  FROM kv
  GROUP BY ALL
), logs AS (
  /* How far each log reaches: its first and newest records. A log holding a record */
  /* arrival_minutes newer than a window's end has had time to receive the window's. */
  SELECT
    (
      SELECT
        MIN(ts)
      FROM requests
    ) AS rms_first,
    (
      SELECT
        MIN(ts)
      FROM keyvault_events
    ) AS kv_first,
    (
      SELECT
        MAX(ts)
      FROM requests
    ) AS rms_reach,
    (
      SELECT
        MAX(ts)
      FROM keyvault_events
    ) AS kv_reach
), cover AS (
  SELECT
    CASE
      WHEN NOT rms_first IS NULL AND NOT kv_first IS NULL
      THEN GREATEST(rms_first, kv_first)
    END AS covered_from,
    CASE
      WHEN NOT rms_reach IS NULL AND NOT kv_reach IS NULL
      THEN LEAST(rms_reach, kv_reach) - MAKE_DT_INTERVAL(0, 0, c.arrival_minutes)
    END AS settled_until
  FROM logs
  CROSS JOIN conf AS c
), joined AS (
  SELECT
    COALESCE(r.grain, k.grain) AS grain,
    COALESCE(r.window_start, k.window_start) AS window_start,
    COALESCE(r.operation, k.operation) AS operation,
    COALESCE(r.rms_calls, 0) AS rms_calls,
    COALESCE(k.kv_calls, 0) AS kv_calls,
    COALESCE(k.kv_other_calls, 0) AS kv_other_calls,
    COALESCE(k.kv_failures, 0) AS kv_failures
  FROM rms_windows AS r
  FULL OUTER JOIN kv_windows AS k
    USING (grain, window_start, operation)
)
SELECT
  j.grain,
  j.window_start,
  j.window_start + CASE j.grain WHEN 'hour' THEN INTERVAL '1' HOUR ELSE INTERVAL '1' MINUTE END AS window_end,
  j.operation,
  p.rms_request_type,
  j.rms_calls,
  j.kv_calls,
  j.kv_other_calls,
  j.kv_failures,
  COALESCE(
    j.window_start >= DATE_TRUNC('MINUTE', c.covered_from)
    AND j.window_start + CASE j.grain WHEN 'hour' THEN INTERVAL '1' HOUR ELSE INTERVAL '1' MINUTE END <= c.settled_until,
    FALSE
  ) AS settled
FROM joined AS j
JOIN pairs AS p
  USING (operation)
CROSS JOIN cover AS c
