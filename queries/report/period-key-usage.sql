-- name: period-key-usage
-- description: The period's tenant-key operations, user ids and IPs pseudonymised on request, as the temp table report_key_usage that the other report queries read (key_usage is computed once per report, not once per table).
-- param: from_ts TIMESTAMP | first instant included
-- param: to_ts TIMESTAMP | first instant excluded
-- param: pseudonymize BOOLEAN = false | replace user ids and IPs by keyed hashes
-- param: key_inner BLOB | HMAC-SHA256 inner padded key (bound, never stored)
-- param: key_outer BLOB | HMAC-SHA256 outer padded key (bound, never stored)
CREATE OR REPLACE TEMP TABLE report_key_usage AS
SELECT
    k.ts, k.operation, k.key_topology, k.result, k.is_orphan, k.origin_request_type,
    k.content_id, k.file_name, k.c_info,
    CASE WHEN $pseudonymize AND k.user_id IS NOT NULL
         THEN 'anon-' || left(sha256(CAST($key_outer AS BLOB)
                  || unhex(sha256(CAST($key_inner AS BLOB) || encode(k.user_id)))), 16)
         ELSE k.user_id END AS user_id,
    CASE WHEN $pseudonymize AND k.c_ip IS NOT NULL
         THEN 'anon-' || left(sha256(CAST($key_outer AS BLOB)
                  || unhex(sha256(CAST($key_inner AS BLOB) || encode(k.c_ip)))), 16)
         ELSE k.c_ip END AS c_ip
FROM key_usage k
WHERE k.ts >= CAST($from_ts AS TIMESTAMP) AND k.ts < CAST($to_ts AS TIMESTAMP)
