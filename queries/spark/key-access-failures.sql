-- Generated from queries/detections/key-access-failures.sql by pipeline/spark/generate.py (sqlglot 30.30.0); do not edit.
/* id: key-access-failures */
/* title: Burst of refused calls on the tenant key in Key Vault */
/* severity: medium */
/* description: Key operations on a tenant key that Key Vault refused with 401 (Unauthorized) or 403 (Forbidden), grouped per identity (the oid claim, else the appid, else the caller's IP) into bursts (a gap of more than gap_minutes starts a new one). A burst of at least min_failures is a finding: an access policy or role removed, the key disabled, or someone probing the key. Evidence is the Key Vault records (keyvault_events.record_id). Judged over all Key Vault records whenever an ingest stored something since the last run. */
/* lookback_days: 0 */
/* lookahead_days: 0 */
/* judge: on-arrival */
/* needs: keyvault_events */
/* scenario: key-access-failures */
/* param: min_failures INTEGER = 5 | fewest refused calls in a burst that make a finding */
/* param: gap_minutes INTEGER = 10 | a gap longer than this between refusals ends a burst */
/* param: tenant_keys LIST | from the settings: the tenant's key names (none: every key) */
/* columns: entity, first_ts, last_ts, summary, evidence_row_ids, window_start */
WITH refused AS (
  SELECT
    *,
    COALESCE(object_id, appid, caller_ip, 'unknown') AS identity
  FROM keyvault_events
  WHERE
    operation LIKE 'Key%'
    AND (
      http_status IN (401, 403) OR result_signature IN ('Unauthorized', 'Forbidden')
    )
    AND (
      SIZE(:tenant_keys) = 0
      OR key_name IS NULL
      OR ARRAY_CONTAINS(TRANSFORM(:tenant_keys, k -> LOWER(k)), LOWER(key_name))
    )
), keyed AS (
  /* sessions_of splits by user_id in (ts, row_id) order: here by identity, in record order */
  SELECT
    *,
    identity AS user_id,
    record_id AS row_id
  FROM refused
), bursts AS (
  SELECT
    *,
    session AS burst
  FROM (
    SELECT
      *,
      SUM(CAST(starts_session AS INT)) OVER (PARTITION BY user_id ORDER BY ts NULLS LAST, row_id NULLS LAST) AS session
    FROM (
      SELECT
        *,
        COALESCE(
          ts - LAG(ts) OVER (PARTITION BY user_id ORDER BY ts NULLS LAST, row_id NULLS LAST) > INTERVAL (:gap_minutes) MINUTE,
          TRUE
        ) AS starts_session
      FROM keyed
    )
  ) AS sessions_of
)
SELECT
  identity AS entity,
  MIN(ts) AS first_ts,
  MAX(ts) AS last_ts,
  IF(
    CAST(COUNT(*) AS STRING) IS NULL
    OR CAST(IF(
      SIZE(ARRAY_SORT(COLLECT_SET(COALESCE(CAST(http_status AS STRING), result_signature)))) = 0,
      NULL,
      ARRAY_JOIN(
        ARRAY_SORT(COLLECT_SET(COALESCE(CAST(http_status AS STRING), result_signature))),
        ', '
      )
    ) AS STRING) IS NULL
    OR CAST(IF(
      SIZE(ARRAY_SORT(COLLECT_SET(operation))) = 0,
      NULL,
      ARRAY_JOIN(ARRAY_SORT(COLLECT_SET(operation)), ', ')
    ) AS STRING) IS NULL
    OR CAST(CAST(CEIL(
      (
        UNIX_MICROS(CAST(MAX(ts) AS TIMESTAMP)) - UNIX_MICROS(CAST(MIN(ts) AS TIMESTAMP))
      ) / CAST(1000000 AS DOUBLE) / 60
    ) AS BIGINT) + 1 AS STRING) IS NULL
    OR CAST(COALESCE(
      IF(
        SIZE(ARRAY_SORT(COLLECT_SET(appid))) = 0,
        NULL,
        ARRAY_JOIN(ARRAY_SORT(COLLECT_SET(appid)), ', ')
      ),
      '-'
    ) AS STRING) IS NULL
    OR CAST(COALESCE(
      IF(
        SIZE(ARRAY_SORT(COLLECT_SET(object_id))) = 0,
        NULL,
        ARRAY_JOIN(ARRAY_SORT(COLLECT_SET(object_id)), ', ')
      ),
      '-'
    ) AS STRING) IS NULL
    OR CAST(COALESCE(
      IF(
        SIZE(ARRAY_SORT(COLLECT_SET(upn))) = 0,
        NULL,
        ARRAY_JOIN(ARRAY_SORT(COLLECT_SET(upn)), ', ')
      ),
      '-'
    ) AS STRING) IS NULL
    OR CAST(COALESCE(
      IF(
        SIZE(ARRAY_SORT(COLLECT_SET(caller_ip))) = 0,
        NULL,
        ARRAY_JOIN(ARRAY_SORT(COLLECT_SET(caller_ip)), ', ')
      ),
      '-'
    ) AS STRING) IS NULL,
    NULL,
    FORMAT_STRING(
      '%s refused key call(s) (%s; %s) in %s minutes by appid %s, oid %s, upn %s, from %s',
      CAST(COUNT(*) AS STRING),
      CAST(IF(
        SIZE(ARRAY_SORT(COLLECT_SET(COALESCE(CAST(http_status AS STRING), result_signature)))) = 0,
        NULL,
        ARRAY_JOIN(
          ARRAY_SORT(COLLECT_SET(COALESCE(CAST(http_status AS STRING), result_signature))),
          ', '
        )
      ) AS STRING),
      CAST(IF(
        SIZE(ARRAY_SORT(COLLECT_SET(operation))) = 0,
        NULL,
        ARRAY_JOIN(ARRAY_SORT(COLLECT_SET(operation)), ', ')
      ) AS STRING),
      CAST(CAST(CEIL(
        (
          UNIX_MICROS(CAST(MAX(ts) AS TIMESTAMP)) - UNIX_MICROS(CAST(MIN(ts) AS TIMESTAMP))
        ) / CAST(1000000 AS DOUBLE) / 60
      ) AS BIGINT) + 1 AS STRING),
      CAST(COALESCE(
        IF(
          SIZE(ARRAY_SORT(COLLECT_SET(appid))) = 0,
          NULL,
          ARRAY_JOIN(ARRAY_SORT(COLLECT_SET(appid)), ', ')
        ),
        '-'
      ) AS STRING),
      CAST(COALESCE(
        IF(
          SIZE(ARRAY_SORT(COLLECT_SET(object_id))) = 0,
          NULL,
          ARRAY_JOIN(ARRAY_SORT(COLLECT_SET(object_id)), ', ')
        ),
        '-'
      ) AS STRING),
      CAST(COALESCE(
        IF(
          SIZE(ARRAY_SORT(COLLECT_SET(upn))) = 0,
          NULL,
          ARRAY_JOIN(ARRAY_SORT(COLLECT_SET(upn)), ', ')
        ),
        '-'
      ) AS STRING),
      CAST(COALESCE(
        IF(
          SIZE(ARRAY_SORT(COLLECT_SET(caller_ip))) = 0,
          NULL,
          ARRAY_JOIN(ARRAY_SORT(COLLECT_SET(caller_ip)), ', ')
        ),
        '-'
      ) AS STRING)
    )
  ) AS summary,
  IF(
    SIZE(
      TRANSFORM(
        ARRAY_SORT(
          COLLECT_LIST(STRUCT(ts AS k0, record_id AS k1, record_id AS v)),
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
        COLLECT_LIST(STRUCT(ts AS k0, record_id AS k1, record_id AS v)),
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
FROM bursts
GROUP BY
  identity,
  burst
HAVING
  COUNT(*) >= :min_failures
