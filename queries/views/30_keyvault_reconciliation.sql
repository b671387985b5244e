-- name: keyvault_reconciliation
-- description: RMS tenant-key calls beside Key Vault's own record of them, per UTC minute and per UTC hour (grain), for each pair KeyVaultDecryptRequest-KeyDecrypt, KeyVaultSignDigest-KeySign, KeyVaultGetKeyInfoRequest-KeyGet. kv_calls are Key Vault operations by the RMS identities (setting keyvault.rms_appids), kv_other_calls those by anyone else, kv_failures the RMS identities' calls with HTTP status 400 or more; Key Vault rows count only the tenant's keys (keyvault.tenant_keys; none set: every key). A window is settled when both logs cover it: it starts at or after the minute of both logs' first records, and each log holds a record at least keyvault.arrival_minutes newer than the window's end (so the window's records have had time to arrive; the last minutes of a collection are never judged). Only settled windows are judged; a window with no calls on either side is not listed.
-- columns: grain, window_start, window_end, operation, rms_request_type, rms_calls, kv_calls, kv_other_calls, kv_failures, settled
CREATE OR REPLACE VIEW keyvault_reconciliation AS
WITH conf AS (
    SELECT
        coalesce(
            (SELECT list_transform(from_json(value, '["VARCHAR"]'), lambda a: lower(a))
             FROM settings WHERE key = 'keyvault.rms_appids'),
            ['00000012-0000-0000-c000-000000000000']
        ) AS rms_appids,
        coalesce(
            (SELECT list_transform(from_json(value, '["VARCHAR"]'), lambda a: lower(a))
             FROM settings WHERE key = 'keyvault.tenant_keys'),
            []::VARCHAR[]
        ) AS tenant_keys,
        coalesce(
            (SELECT CAST(value AS INTEGER) FROM settings WHERE key = 'keyvault.arrival_minutes'),
            30
        ) AS arrival_minutes
),
pairs(rms_request_type, operation) AS (
    VALUES ('KeyVaultDecryptRequest', 'KeyDecrypt'),
           ('KeyVaultSignDigest', 'KeySign'),
           ('KeyVaultGetKeyInfoRequest', 'KeyGet')
),
rms AS (
    SELECT r.ts, p.operation
    FROM requests r JOIN pairs p ON p.rms_request_type = r.request_type
),
kv AS (
    SELECT k.ts, k.operation,
           list_contains(c.rms_appids, lower(coalesce(k.appid, ''))) AS by_rms,
           coalesce(k.http_status >= 400, false) AS failed
    FROM keyvault_events k
    CROSS JOIN conf c
    WHERE k.operation IN (SELECT operation FROM pairs)
      AND (array_length(c.tenant_keys) = 0 OR list_contains(c.tenant_keys, lower(k.key_name)))
),
rms_windows AS (
    SELECT 'minute' AS grain, date_trunc('minute', ts) AS window_start, operation,
           count(*) AS rms_calls
    FROM rms GROUP BY ALL
    UNION ALL
    SELECT 'hour', date_trunc('hour', ts), operation, count(*) FROM rms GROUP BY ALL
),
kv_windows AS (
    SELECT 'minute' AS grain, date_trunc('minute', ts) AS window_start, operation,
           count(*) FILTER (WHERE by_rms) AS kv_calls,
           count(*) FILTER (WHERE NOT by_rms) AS kv_other_calls,
           count(*) FILTER (WHERE by_rms AND failed) AS kv_failures
    FROM kv GROUP BY ALL
    UNION ALL
    SELECT 'hour', date_trunc('hour', ts), operation,
           count(*) FILTER (WHERE by_rms), count(*) FILTER (WHERE NOT by_rms),
           count(*) FILTER (WHERE by_rms AND failed)
    FROM kv GROUP BY ALL
),
logs AS (
    -- How far each log reaches: its first and newest records. A log holding a record
    -- arrival_minutes newer than a window's end has had time to receive the window's.
    SELECT
        (SELECT min(ts) FROM requests) AS rms_first,
        (SELECT min(ts) FROM keyvault_events) AS kv_first,
        (SELECT max(ts) FROM requests) AS rms_reach,
        (SELECT max(ts) FROM keyvault_events) AS kv_reach
),
cover AS (
    SELECT
        CASE WHEN rms_first IS NOT NULL AND kv_first IS NOT NULL
             THEN greatest(rms_first, kv_first) END AS covered_from,
        CASE WHEN rms_reach IS NOT NULL AND kv_reach IS NOT NULL
             THEN least(rms_reach, kv_reach) - to_minutes(c.arrival_minutes) END AS settled_until
    FROM logs CROSS JOIN conf c
),
joined AS (
    SELECT coalesce(r.grain, k.grain) AS grain,
           coalesce(r.window_start, k.window_start) AS window_start,
           coalesce(r.operation, k.operation) AS operation,
           coalesce(r.rms_calls, 0) AS rms_calls,
           coalesce(k.kv_calls, 0) AS kv_calls,
           coalesce(k.kv_other_calls, 0) AS kv_other_calls,
           coalesce(k.kv_failures, 0) AS kv_failures
    FROM rms_windows r
    FULL OUTER JOIN kv_windows k USING (grain, window_start, operation)
)
SELECT j.grain,
       j.window_start,
       j.window_start + CASE j.grain WHEN 'hour' THEN INTERVAL 1 HOUR ELSE INTERVAL 1 MINUTE END
           AS window_end,
       j.operation,
       p.rms_request_type,
       j.rms_calls,
       j.kv_calls,
       j.kv_other_calls,
       j.kv_failures,
       coalesce(
           j.window_start >= date_trunc('minute', c.covered_from)
           AND j.window_start
               + CASE j.grain WHEN 'hour' THEN INTERVAL 1 HOUR ELSE INTERVAL 1 MINUTE END
               <= c.settled_until,
           false
       ) AS settled
FROM joined j
JOIN pairs p USING (operation)
CROSS JOIN cover c;
