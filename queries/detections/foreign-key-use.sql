-- id: foreign-key-use
-- title: Tenant key used by an identity that is not RMS
-- severity: high
-- description: Successful cryptographic use of a tenant key in Key Vault (KeyDecrypt, KeyEncrypt, KeySign, KeyVerify, KeyWrap, KeyUnwrap) by an identity whose appid is not one of the RMS identities (setting keyvault.rms_appids, by default the Azure Rights Management service principal). BYOK grants only RMS the use of the key, so any other caller used it outside RMS. One finding per identity (the oid claim, else the appid, else the caller's IP) and episode (a quiet gap of more than gap_minutes starts a new one), naming the appid, oid, upn, caller IPs, keys and operations; evidence is the Key Vault records (keyvault_events.record_id). Failed attempts are key-access-failures, management operations key-management; reading the key's public part (KeyGet, KeyList), as an administrator browsing the vault does, is no use of the key (the report lists every identity that called the key, these too). Judged over all Key Vault records whenever an ingest stored something since the last run (they are few, next to the RMS log).
-- lookback_days: 0
-- lookahead_days: 0
-- judge: on-arrival
-- needs: keyvault_events
-- scenario: foreign-key-use
-- param: min_calls INTEGER = 1 | fewest operations in an episode that make a finding
-- param: gap_minutes INTEGER = 60 | a quiet gap longer than this ends an episode
-- param: rms_appids LIST | from the settings: the appids whose key use is RMS's
-- param: tenant_keys LIST | from the settings: the tenant's key names (none: every key)
-- columns: entity, first_ts, last_ts, summary, evidence_row_ids, window_start
WITH foreign_use AS (
    SELECT *, coalesce(object_id, appid, caller_ip, 'unknown') AS identity
    FROM keyvault_events
    WHERE operation IN ('KeyDecrypt', 'KeyEncrypt', 'KeySign', 'KeyVerify', 'KeyWrap',
                        'KeyUnwrap')
      AND coalesce(http_status < 400, lower(result_type) = 'success', true)
      AND NOT list_contains(list_transform($rms_appids, lambda a: lower(a)),
                            lower(coalesce(appid, '')))
      AND (len($tenant_keys) = 0
           OR list_contains(list_transform($tenant_keys, lambda k: lower(k)), lower(key_name)))
),
keyed AS (
    -- sessions_of splits by user_id in (ts, row_id) order: here by identity, in record order
    SELECT *, identity AS user_id, record_id AS row_id FROM foreign_use
),
episodes AS (
    SELECT *, session AS episode FROM sessions_of('keyed', $gap_minutes)
)
SELECT
    identity AS entity,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    format('{} use(s) of the tenant key ({}) on {} by a non-RMS identity: appid {}, oid {}, upn {}, from {}',
           count(*),
           string_agg(DISTINCT operation, ', ' ORDER BY operation),
           coalesce(string_agg(DISTINCT key_name, ', ' ORDER BY key_name), 'an unnamed key'),
           coalesce(string_agg(DISTINCT appid, ', ' ORDER BY appid), '-'),
           coalesce(string_agg(DISTINCT object_id, ', ' ORDER BY object_id), '-'),
           coalesce(string_agg(DISTINCT upn, ', ' ORDER BY upn), '-'),
           coalesce(string_agg(DISTINCT caller_ip, ', ' ORDER BY caller_ip), '-')) AS summary,
    list(record_id ORDER BY ts, record_id) AS evidence_row_ids,
    min(ts) AS window_start
FROM episodes
GROUP BY identity, episode
HAVING count(*) >= $min_calls
