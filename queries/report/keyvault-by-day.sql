-- name: keyvault-by-day
-- description: Per UTC day of the period, RMS tenant-key calls (KeyVaultDecryptRequest, KeyVaultSignDigest, KeyVaultGetKeyInfoRequest) against Key Vault's KeyDecrypt, KeySign and KeyGet by the RMS identities (kv_calls) and by anyone else (kv_other_calls), from the view keyvault_reconciliation; hours_judged are its settled hours, hours_disagreeing those key-log-mismatch judges a mismatch (with its parameters).
-- param: from_ts TIMESTAMP | first instant included
-- param: to_ts TIMESTAMP | first instant excluded
-- param: mismatch_min_calls INTEGER = 5 | key-log-mismatch's min_calls
-- param: mismatch_max_share DOUBLE = 0.5 | key-log-mismatch's max_share
-- columns: day, rms_calls, kv_calls, kv_other_calls, kv_failures, hours_judged, hours_disagreeing
WITH hours AS (
    SELECT window_start,
           sum(rms_calls) AS rms_calls, sum(kv_calls) AS kv_calls,
           sum(kv_other_calls) AS kv_other_calls, sum(kv_failures) AS kv_failures,
           bool_and(settled) AS settled,
           bool_or(greatest(rms_calls, kv_calls) >= $mismatch_min_calls
                   AND least(rms_calls, kv_calls)
                       < $mismatch_max_share * greatest(rms_calls, kv_calls)) AS disagrees
    FROM keyvault_reconciliation
    WHERE grain = 'hour'
      AND window_start >= CAST($from_ts AS TIMESTAMP) AND window_start < CAST($to_ts AS TIMESTAMP)
    GROUP BY window_start
)
SELECT CAST(window_start AS DATE) AS day,
       CAST(sum(rms_calls) AS BIGINT) AS rms_calls,
       CAST(sum(kv_calls) AS BIGINT) AS kv_calls,
       CAST(sum(kv_other_calls) AS BIGINT) AS kv_other_calls,
       CAST(sum(kv_failures) AS BIGINT) AS kv_failures,
       count(*) FILTER (WHERE settled) AS hours_judged,
       count(*) FILTER (WHERE settled AND disagrees) AS hours_disagreeing
FROM hours
GROUP BY ALL
ORDER BY day
