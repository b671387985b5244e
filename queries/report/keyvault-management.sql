-- name: keyvault-management
-- description: Management operations on the tenant's keys in Key Vault in the period (every Key operation but their use: KeyCreate, KeyImport, KeyUpdate, KeyBackup, KeyRestore, KeyDelete, KeyPurge, ...; refused attempts too), oldest first, as key-management judges them. UPNs and IPs pseudonymised on request.
-- param: from_ts TIMESTAMP | first instant included
-- param: to_ts TIMESTAMP | first instant excluded
-- param: tenant_keys LIST | from the settings: the tenant's key names (none: every key)
-- param: pseudonymize BOOLEAN = false | replace user ids and IPs by keyed hashes
-- param: key_inner BLOB | HMAC-SHA256 inner padded key (bound, never stored)
-- param: key_outer BLOB | HMAC-SHA256 outer padded key (bound, never stored)
-- columns: ts, operation, key_name, key_version, http_status, appid, object_id, upn, caller_ip
SELECT ts, operation, key_name, key_version, http_status, appid, object_id,
       CASE WHEN $pseudonymize AND upn IS NOT NULL
            THEN 'anon-' || left(sha256(CAST($key_outer AS BLOB)
                     || unhex(sha256(CAST($key_inner AS BLOB) || encode(upn)))), 16)
            ELSE upn END AS upn,
       CASE WHEN $pseudonymize AND caller_ip IS NOT NULL
            THEN 'anon-' || left(sha256(CAST($key_outer AS BLOB)
                     || unhex(sha256(CAST($key_inner AS BLOB) || encode(caller_ip)))), 16)
            ELSE caller_ip END AS caller_ip
FROM keyvault_events
WHERE ts >= CAST($from_ts AS TIMESTAMP) AND ts < CAST($to_ts AS TIMESTAMP)
  AND key_name IS NOT NULL
  AND operation LIKE 'Key%'
  AND operation NOT IN ('KeyDecrypt', 'KeyEncrypt', 'KeySign', 'KeyVerify', 'KeyWrap',
                        'KeyUnwrap', 'KeyGet', 'KeyList')
  AND (len($tenant_keys) = 0
       OR list_contains(list_transform($tenant_keys, lambda k: lower(k)), lower(key_name)))
ORDER BY ts, operation
