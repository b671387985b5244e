-- Generated from queries/detections/foreign-key-use.sql by pipeline/spark/generate.py (sqlglot 30.30.0); do not edit.
/* id: foreign-key-use */
/* title: Tenant key used by an identity that is not RMS */
/* severity: high */
/* description: Successful cryptographic use of a tenant key in Key Vault (KeyDecrypt, KeyEncrypt, KeySign, KeyVerify, KeyWrap, KeyUnwrap) by an identity whose appid is not one of the RMS identities (setting keyvault.rms_appids, by default the Azure Rights Management service principal). BYOK grants only RMS the use of the key, so any other caller used it outside RMS. One finding per identity (the oid claim, else the appid, else the caller's IP) and episode (a quiet gap of more than gap_minutes starts a new one), naming the appid, oid, upn, caller IPs, keys and operations; evidence is the Key Vault records (keyvault_events.record_id). Failed attempts are key-access-failures, management operations key-management; reading the key's public part (KeyGet, KeyList), as an administrator browsing the vault does, is no use of the key (the report lists every identity that called the key, these too). Judged over all Key Vault records whenever an ingest stored something since the last run (they are few, next to the RMS log). */
/* lookback_days: 0 */
/* lookahead_days: 0 */
/* judge: on-arrival */
/* needs: keyvault_events */
/* scenario: foreign-key-use */
/* param: min_calls INTEGER = 1 | fewest operations in an episode that make a finding */
/* param: gap_minutes INTEGER = 60 | a quiet gap longer than this ends an episode */
/* param: rms_appids LIST | from the settings: the appids whose key use is RMS's */
/* param: tenant_keys LIST | from the settings: the tenant's key names (none: every key) */
/* columns: entity, first_ts, last_ts, summary, evidence_row_ids, window_start */
WITH foreign_use AS (
  SELECT
    *,
    COALESCE(object_id, appid, caller_ip, 'unknown') AS identity
  FROM keyvault_events
  WHERE
    operation IN ('KeyDecrypt', 'KeyEncrypt', 'KeySign', 'KeyVerify', 'KeyWrap', 'KeyUnwrap')
    AND COALESCE(http_status < 400, LOWER(result_type) = 'success', TRUE)
    AND NOT ARRAY_CONTAINS(TRANSFORM(:rms_appids, a -> LOWER(a)), LOWER(COALESCE(appid, '')))
    AND (
      SIZE(:tenant_keys) = 0
      OR ARRAY_CONTAINS(TRANSFORM(:tenant_keys, k -> LOWER(k)), LOWER(key_name))
    )
), keyed AS (
  /* sessions_of splits by user_id in (ts, row_id) order: here by identity, in record order */
  SELECT
    *,
    identity AS user_id,
    record_id AS row_id
  FROM foreign_use
), episodes AS (
  SELECT
    *,
    session AS episode
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
      SIZE(ARRAY_SORT(COLLECT_SET(operation))) = 0,
      NULL,
      ARRAY_JOIN(ARRAY_SORT(COLLECT_SET(operation)), ', ')
    ) AS STRING) IS NULL
    OR CAST(COALESCE(
      IF(
        SIZE(ARRAY_SORT(COLLECT_SET(key_name))) = 0,
        NULL,
        ARRAY_JOIN(ARRAY_SORT(COLLECT_SET(key_name)), ', ')
      ),
      'an unnamed key'
    ) AS STRING) IS NULL
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
      '%s use(s) of the tenant key (%s) on %s by a non-RMS identity: appid %s, oid %s, upn %s, from %s',
      CAST(COUNT(*) AS STRING),
      CAST(IF(
        SIZE(ARRAY_SORT(COLLECT_SET(operation))) = 0,
        NULL,
        ARRAY_JOIN(ARRAY_SORT(COLLECT_SET(operation)), ', ')
      ) AS STRING),
      CAST(COALESCE(
        IF(
          SIZE(ARRAY_SORT(COLLECT_SET(key_name))) = 0,
          NULL,
          ARRAY_JOIN(ARRAY_SORT(COLLECT_SET(key_name)), ', ')
        ),
        'an unnamed key'
      ) AS STRING),
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
FROM episodes
GROUP BY
  identity,
  episode
HAVING
  COUNT(*) >= :min_calls
