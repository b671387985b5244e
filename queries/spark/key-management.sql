-- Generated from queries/detections/key-management.sql by pipeline/spark/generate.py (sqlglot 30.30.0); do not edit.
/* id: key-management */
/* title: Management operation on the tenant key, or a new key version */
/* severity: high */
/* description: Operations on a tenant key in Key Vault other than its use (KeyCreate, KeyImport, KeyUpdate, KeyBackup, KeyRestore, KeyDelete, KeyPurge, KeyRecover, KeyRotate, ...; refused attempts included), and the first appearance of a key version after an earlier version of the same key was seen (a new version: the key was rotated, re-imported or replaced). One finding per key and episode (a quiet gap of more than gap_minutes starts a new one). High when the episode holds a delete, purge, backup, restore or import (the key leaving or being replaced), medium otherwise. Evidence is the Key Vault records (keyvault_events.record_id). Judged over all Key Vault records whenever an ingest stored something since the last run. */
/* lookback_days: 0 */
/* lookahead_days: 0 */
/* judge: on-arrival */
/* needs: keyvault_events */
/* scenario: key-management */
/* param: gap_minutes INTEGER = 60 | a quiet gap longer than this ends an episode */
/* param: tenant_keys LIST | from the settings: the tenant's key names (none: every key) */
/* columns: entity, first_ts, last_ts, summary, evidence_row_ids, window_start, severity */
WITH tenant AS (
  SELECT
    *
  FROM keyvault_events
  WHERE
    NOT key_name IS NULL
    AND (
      SIZE(:tenant_keys) = 0
      OR ARRAY_CONTAINS(TRANSFORM(:tenant_keys, k -> LOWER(k)), LOWER(key_name))
    )
), managed AS (
  SELECT
    ts,
    record_id,
    LOWER(key_name) AS key,
    key_name,
    operation,
    key_version,
    appid,
    object_id,
    upn,
    caller_ip,
    COALESCE(http_status < 400, TRUE) AS ok,
    CAST(NULL AS STRING) AS new_version
  FROM tenant
  WHERE
    operation LIKE 'Key%'
    AND NOT operation IN (
      'KeyDecrypt',
      'KeyEncrypt',
      'KeySign',
      'KeyVerify',
      'KeyWrap',
      'KeyUnwrap',
      'KeyGet',
      'KeyList'
    )
), versions AS (
  SELECT
    LOWER(key_name) AS key,
    key_version,
    MIN(ts) AS first_seen,
    MIN_BY(record_id, STRUCT(ts, record_id)) AS record_id
  FROM tenant
  WHERE
    NOT key_version IS NULL
  GROUP BY ALL
), new_versions AS (
  SELECT
    v.first_seen AS ts,
    v.record_id,
    v.key,
    t.key_name,
    'new version' AS operation,
    v.key_version,
    t.appid,
    t.object_id,
    t.upn,
    t.caller_ip,
    TRUE AS ok,
    v.key_version AS new_version
  FROM versions AS v
  JOIN tenant AS t
    ON t.record_id = v.record_id AND t.ts = v.first_seen
  WHERE
    EXISTS(
      SELECT
        1
      FROM versions AS w
      WHERE
        w.key = v.key AND w.first_seen < v.first_seen
    )
), events AS (
  SELECT
    *
  FROM managed
  UNION ALL
  SELECT
    *
  FROM new_versions
  WHERE
    NOT record_id IN (
      SELECT
        record_id
      FROM managed
    )
), keyed AS (
  /* sessions_of splits by user_id in (ts, row_id) order: here by key, in record order */
  SELECT
    *,
    key AS user_id,
    record_id AS row_id
  FROM events
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
  GET(
    FILTER(
      TRANSFORM(
        ARRAY_SORT(
          COLLECT_LIST(STRUCT(ts AS k0, key_name AS v)),
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
      v -> NOT v IS NULL
    ),
    0
  ) AS entity,
  MIN(ts) AS first_ts,
  MAX(ts) AS last_ts,
  IF(
    CAST(IF(
      SIZE(
        TRANSFORM(
          ARRAY_SORT(
            COLLECT_LIST(
              STRUCT(
                ts AS k0,
                record_id AS k1,
                operation || CASE WHEN ok THEN '' ELSE ' (refused)' END AS v
              )
            ),
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
      ARRAY_JOIN(
        TRANSFORM(
          ARRAY_SORT(
            COLLECT_LIST(
              STRUCT(
                ts AS k0,
                record_id AS k1,
                operation || CASE WHEN ok THEN '' ELSE ' (refused)' END AS v
              )
            ),
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
        ),
        ', '
      )
    ) AS STRING) IS NULL
    OR CAST(GET(
      FILTER(
        TRANSFORM(
          ARRAY_SORT(
            COLLECT_LIST(STRUCT(ts AS k0, key_name AS v)),
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
        v -> NOT v IS NULL
      ),
      0
    ) AS STRING) IS NULL
    OR CAST(CASE
      WHEN COUNT(new_version) > 0
      THEN IF(
        CAST(IF(
          SIZE(ARRAY_SORT(COLLECT_SET(new_version))) = 0,
          NULL,
          ARRAY_JOIN(ARRAY_SORT(COLLECT_SET(new_version)), ', ')
        ) AS STRING) IS NULL,
        NULL,
        FORMAT_STRING(
          ' (new version(s) %s)',
          CAST(IF(
            SIZE(ARRAY_SORT(COLLECT_SET(new_version))) = 0,
            NULL,
            ARRAY_JOIN(ARRAY_SORT(COLLECT_SET(new_version)), ', ')
          ) AS STRING)
        )
      )
      ELSE ''
    END AS STRING) IS NULL
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
      '%s on key %s%s by appid %s, oid %s, upn %s, from %s',
      CAST(IF(
        SIZE(
          TRANSFORM(
            ARRAY_SORT(
              COLLECT_LIST(
                STRUCT(
                  ts AS k0,
                  record_id AS k1,
                  operation || CASE WHEN ok THEN '' ELSE ' (refused)' END AS v
                )
              ),
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
        ARRAY_JOIN(
          TRANSFORM(
            ARRAY_SORT(
              COLLECT_LIST(
                STRUCT(
                  ts AS k0,
                  record_id AS k1,
                  operation || CASE WHEN ok THEN '' ELSE ' (refused)' END AS v
                )
              ),
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
          ),
          ', '
        )
      ) AS STRING),
      CAST(GET(
        FILTER(
          TRANSFORM(
            ARRAY_SORT(
              COLLECT_LIST(STRUCT(ts AS k0, key_name AS v)),
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
          v -> NOT v IS NULL
        ),
        0
      ) AS STRING),
      CAST(CASE
        WHEN COUNT(new_version) > 0
        THEN IF(
          CAST(IF(
            SIZE(ARRAY_SORT(COLLECT_SET(new_version))) = 0,
            NULL,
            ARRAY_JOIN(ARRAY_SORT(COLLECT_SET(new_version)), ', ')
          ) AS STRING) IS NULL,
          NULL,
          FORMAT_STRING(
            ' (new version(s) %s)',
            CAST(IF(
              SIZE(ARRAY_SORT(COLLECT_SET(new_version))) = 0,
              NULL,
              ARRAY_JOIN(ARRAY_SORT(COLLECT_SET(new_version)), ', ')
            ) AS STRING)
          )
        )
        ELSE ''
      END AS STRING),
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
  MIN(ts) AS window_start,
  CASE
    WHEN BOOL_OR(operation IN ('KeyDelete', 'KeyPurge', 'KeyBackup', 'KeyRestore', 'KeyImport'))
    THEN 'high'
    ELSE 'medium'
  END AS severity
FROM episodes
GROUP BY
  key,
  episode
