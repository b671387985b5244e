-- name: keyvault-identities
-- description: Every identity that called a key operation on the tenant's keys in Key Vault in the period (setting keyvault.tenant_keys; none: every key), RMS's (keyvault.rms_appids) and any other, with its calls, refusals (HTTP 400 or more), operations, keys and caller IPs; RMS last, so another identity stands on top. UPNs and IPs pseudonymised on request.
-- param: from_ts TIMESTAMP | first instant included
-- param: to_ts TIMESTAMP | first instant excluded
-- param: rms_appids LIST | from the settings: the appids whose key use is RMS's
-- param: tenant_keys LIST | from the settings: the tenant's key names (none: every key)
-- param: pseudonymize BOOLEAN = false | replace user ids and IPs by keyed hashes
-- param: key_inner BLOB | HMAC-SHA256 inner padded key (bound, never stored)
-- param: key_outer BLOB | HMAC-SHA256 outer padded key (bound, never stored)
-- columns: is_rms, appid, object_id, upn, calls, refused, operations, key_names, caller_ips, first_ts, last_ts
WITH calls AS (
    SELECT *,
           list_contains(list_transform($rms_appids, lambda a: lower(a)),
                         lower(coalesce(appid, ''))) AS is_rms,
           CASE WHEN $pseudonymize AND upn IS NOT NULL
                THEN 'anon-' || left(sha256(CAST($key_outer AS BLOB)
                         || unhex(sha256(CAST($key_inner AS BLOB) || encode(upn)))), 16)
                ELSE upn END AS shown_upn,
           CASE WHEN $pseudonymize AND caller_ip IS NOT NULL
                THEN 'anon-' || left(sha256(CAST($key_outer AS BLOB)
                         || unhex(sha256(CAST($key_inner AS BLOB) || encode(caller_ip)))), 16)
                ELSE caller_ip END AS shown_ip
    FROM keyvault_events
    WHERE ts >= CAST($from_ts AS TIMESTAMP) AND ts < CAST($to_ts AS TIMESTAMP)
      AND operation LIKE 'Key%'
      AND (len($tenant_keys) = 0 OR key_name IS NULL
           OR list_contains(list_transform($tenant_keys, lambda k: lower(k)), lower(key_name)))
)
SELECT is_rms, appid, object_id, shown_upn AS upn,
       count(*) AS calls,
       count(*) FILTER (WHERE http_status >= 400) AS refused,
       string_agg(DISTINCT operation, ', ' ORDER BY operation) AS operations,
       string_agg(DISTINCT key_name, ', ' ORDER BY key_name) AS key_names,
       string_agg(DISTINCT shown_ip, ', ' ORDER BY shown_ip) AS caller_ips,
       min(ts) AS first_ts,
       max(ts) AS last_ts
FROM calls
GROUP BY ALL
ORDER BY is_rms, calls DESC, appid, object_id, upn
