-- id: key-access-failures
-- title: Burst of refused calls on the tenant key in Key Vault
-- severity: medium
-- description: Key operations on a tenant key that Key Vault refused with 401 (Unauthorized) or 403 (Forbidden), grouped per identity (the oid claim, else the appid, else the caller's IP) into bursts (a gap of more than gap_minutes starts a new one). A burst of at least min_failures is a finding: an access policy or role removed, the key disabled, or someone probing the key. Evidence is the Key Vault records (keyvault_events.record_id). Judged over all Key Vault records whenever an ingest stored something since the last run.
-- lookback_days: 0
-- lookahead_days: 0
-- judge: on-arrival
-- needs: keyvault_events
-- scenario: key-access-failures
-- param: min_failures INTEGER = 5 | fewest refused calls in a burst that make a finding
-- param: gap_minutes INTEGER = 10 | a gap longer than this between refusals ends a burst
-- param: tenant_keys LIST | from the settings: the tenant's key names (none: every key)
-- columns: entity, first_ts, last_ts, summary, evidence_row_ids, window_start
WITH refused AS (
    SELECT *, coalesce(object_id, appid, caller_ip, 'unknown') AS identity
    FROM keyvault_events
    WHERE operation LIKE 'Key%'
      AND (http_status IN (401, 403) OR result_signature IN ('Unauthorized', 'Forbidden'))
      AND (len($tenant_keys) = 0 OR key_name IS NULL
           OR list_contains(list_transform($tenant_keys, lambda k: lower(k)), lower(key_name)))
),
keyed AS (
    -- sessions_of splits by user_id in (ts, row_id) order: here by identity, in record order
    SELECT *, identity AS user_id, record_id AS row_id FROM refused
),
bursts AS (
    SELECT *, session AS burst FROM sessions_of('keyed', $gap_minutes)
)
SELECT
    identity AS entity,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    format('{} refused key call(s) ({}; {}) in {} minutes by appid {}, oid {}, upn {}, from {}',
           count(*),
           string_agg(DISTINCT coalesce(CAST(http_status AS VARCHAR), result_signature), ', '
                      ORDER BY coalesce(CAST(http_status AS VARCHAR), result_signature)),
           string_agg(DISTINCT operation, ', ' ORDER BY operation),
           ceil(epoch(max(ts) - min(ts)) / 60)::BIGINT + 1,
           coalesce(string_agg(DISTINCT appid, ', ' ORDER BY appid), '-'),
           coalesce(string_agg(DISTINCT object_id, ', ' ORDER BY object_id), '-'),
           coalesce(string_agg(DISTINCT upn, ', ' ORDER BY upn), '-'),
           coalesce(string_agg(DISTINCT caller_ip, ', ' ORDER BY caller_ip), '-')) AS summary,
    list(record_id ORDER BY ts, record_id) AS evidence_row_ids,
    min(ts) AS window_start
FROM bursts
GROUP BY identity, burst
HAVING count(*) >= $min_failures
