-- id: key-management
-- title: Management operation on the tenant key, or a new key version
-- severity: high
-- description: Operations on a tenant key in Key Vault other than its use (KeyCreate, KeyImport, KeyUpdate, KeyBackup, KeyRestore, KeyDelete, KeyPurge, KeyRecover, KeyRotate, ...; refused attempts included), and the first appearance of a key version after an earlier version of the same key was seen (a new version: the key was rotated, re-imported or replaced). One finding per key and episode (a quiet gap of more than gap_minutes starts a new one). High when the episode holds a delete, purge, backup, restore or import (the key leaving or being replaced), medium otherwise. Evidence is the Key Vault records (keyvault_events.record_id). Judged over all Key Vault records whenever an ingest stored something since the last run.
-- lookback_days: 0
-- lookahead_days: 0
-- judge: on-arrival
-- needs: keyvault_events
-- scenario: key-management
-- param: gap_minutes INTEGER = 60 | a quiet gap longer than this ends an episode
-- param: tenant_keys LIST | from the settings: the tenant's key names (none: every key)
-- columns: entity, first_ts, last_ts, summary, evidence_row_ids, window_start, severity
WITH tenant AS (
    SELECT * FROM keyvault_events
    WHERE key_name IS NOT NULL
      AND (len($tenant_keys) = 0
           OR list_contains(list_transform($tenant_keys, lambda k: lower(k)), lower(key_name)))
),
managed AS (
    SELECT ts, record_id, lower(key_name) AS key, key_name, operation, key_version, appid,
           object_id, upn, caller_ip, coalesce(http_status < 400, true) AS ok,
           NULL::VARCHAR AS new_version
    FROM tenant
    WHERE operation LIKE 'Key%'
      AND operation NOT IN ('KeyDecrypt', 'KeyEncrypt', 'KeySign', 'KeyVerify', 'KeyWrap',
                            'KeyUnwrap', 'KeyGet', 'KeyList')
),
versions AS (
    SELECT lower(key_name) AS key, key_version, min(ts) AS first_seen,
           arg_min(record_id, (ts, record_id)) AS record_id
    FROM tenant
    WHERE key_version IS NOT NULL
    GROUP BY ALL
),
new_versions AS (
    SELECT v.first_seen AS ts, v.record_id, v.key, t.key_name, 'new version' AS operation,
           v.key_version, t.appid, t.object_id, t.upn, t.caller_ip, true AS ok,
           v.key_version AS new_version
    FROM versions v
    JOIN tenant t ON t.record_id = v.record_id AND t.ts = v.first_seen
    WHERE EXISTS (SELECT 1 FROM versions w WHERE w.key = v.key AND w.first_seen < v.first_seen)
),
events AS (
    SELECT * FROM managed
    UNION ALL
    SELECT * FROM new_versions WHERE record_id NOT IN (SELECT record_id FROM managed)
),
keyed AS (
    -- sessions_of splits by user_id in (ts, row_id) order: here by key, in record order
    SELECT *, key AS user_id, record_id AS row_id FROM events
),
episodes AS (
    SELECT *, session AS episode FROM sessions_of('keyed', $gap_minutes)
)
SELECT
    any_value(key_name ORDER BY ts) AS entity,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    format('{} on key {}{} by appid {}, oid {}, upn {}, from {}',
           string_agg(operation || CASE WHEN ok THEN '' ELSE ' (refused)' END, ', '
                      ORDER BY ts, record_id),
           any_value(key_name ORDER BY ts),
           CASE WHEN count(new_version) > 0
                THEN format(' (new version(s) {})',
                            string_agg(DISTINCT new_version, ', ' ORDER BY new_version))
                ELSE '' END,
           coalesce(string_agg(DISTINCT appid, ', ' ORDER BY appid), '-'),
           coalesce(string_agg(DISTINCT object_id, ', ' ORDER BY object_id), '-'),
           coalesce(string_agg(DISTINCT upn, ', ' ORDER BY upn), '-'),
           coalesce(string_agg(DISTINCT caller_ip, ', ' ORDER BY caller_ip), '-')) AS summary,
    list(record_id ORDER BY ts, record_id) AS evidence_row_ids,
    min(ts) AS window_start,
    CASE WHEN bool_or(operation IN ('KeyDelete', 'KeyPurge', 'KeyBackup', 'KeyRestore',
                                    'KeyImport'))
         THEN 'high' ELSE 'medium' END AS severity
FROM episodes
GROUP BY key, episode
