-- name: finding-evidence
-- description: The evidence records of the period's findings (at most evidence_limit per finding), in the order of the findings table, joined to requests, or for the Key Vault rules to keyvault_events by record_id (then request_type is the Key Vault operation, result its HTTP status text, user_id the caller's UPN or object id, c_ip the caller's address, c_info 'appid=' and the caller's application); NULL columns mean the evidence row is no longer stored; location is where c_ip is (temp table ip_locations; dropped by the report without a location database).
-- param: from_ts TIMESTAMP | first instant included
-- param: to_ts TIMESTAMP | first instant excluded
-- param: evidence_limit INTEGER = 1000 | evidence records kept per finding
-- param: evidence_lo TIMESTAMP = -infinity | look for evidence records from this instant (the earliest first_ts of the findings)
-- param: evidence_hi TIMESTAMP = infinity | and up to this one (the latest last_ts): zone maps then skip the rest of the history
-- param: pseudonymize BOOLEAN = false | replace user ids and IPs by keyed hashes
-- param: key_inner BLOB | HMAC-SHA256 inner padded key (bound, never stored)
-- param: key_outer BLOB | HMAC-SHA256 outer padded key (bound, never stored)
-- columns: finding_id, evidence_no, row_id, ts, request_type, user_id, result, content_id, file_name, owner_email, c_ip, location, c_info, acting_as_user, source_file, source_line
WITH evidence AS (
    SELECT finding_id, first_ts,
           CASE severity WHEN 'low' THEN 1 WHEN 'medium' THEN 2 ELSE 3 END AS severity_rank,
           unnest(evidence_row_ids) AS row_id,
           unnest(generate_series(1, len(evidence_row_ids))) AS evidence_no
    FROM findings
    WHERE last_ts >= CAST($from_ts AS TIMESTAMP) AND first_ts < CAST($to_ts AS TIMESTAMP)
),
picked AS (
    SELECT * FROM evidence WHERE evidence_no <= $evidence_limit
),
hashed AS (
    SELECT p.finding_id, p.severity_rank, p.first_ts AS finding_ts, p.evidence_no, p.row_id,
           coalesce(r.ts, k.ts) AS ts,
           coalesce(r.request_type, k.operation) AS request_type,
           coalesce(r.user_id, k.upn, k.object_id) AS user_id,
           coalesce(r.result, k.result_signature) AS result,
           r.content_id, r.file_name, r.owner_email,
           coalesce(r.c_ip, k.caller_ip) AS c_ip,
           coalesce(r.c_info, 'appid=' || k.appid) AS c_info,
           r.acting_as_user,
           coalesce(r.source_file, k.source_file) AS source_file,
           coalesce(r.source_line, k.source_line) AS source_line,
           CASE l.label
                WHEN 'carrier-grade-nat' THEN 'carrier-grade NAT'
                WHEN 'microsoft' THEN 'Microsoft'
                WHEN 'corporate' THEN 'corporate network'
                WHEN 'invalid' THEN 'not an IP address'
                ELSE coalesce(l.label, nullif(concat_ws(', ', l.city, l.country_code), ''), l.country)
           END AS location
    FROM picked p
    LEFT JOIN (
        SELECT * FROM requests
        WHERE ts BETWEEN CAST($evidence_lo AS TIMESTAMP) AND CAST($evidence_hi AS TIMESTAMP)
    ) r ON r.row_id = p.row_id
    LEFT JOIN (
        SELECT * FROM keyvault_events
        WHERE ts BETWEEN CAST($evidence_lo AS TIMESTAMP) AND CAST($evidence_hi AS TIMESTAMP)
    ) k ON r.row_id IS NULL AND k.record_id = p.row_id
    LEFT JOIN ip_locations l ON l.c_ip = coalesce(r.c_ip, k.caller_ip)
)
SELECT
    finding_id, evidence_no, row_id, ts, request_type,
    pseudonym(user_id, $pseudonymize, $key_inner, $key_outer) AS user_id,
    result, content_id, file_name,
    pseudonym(owner_email, $pseudonymize, $key_inner, $key_outer) AS owner_email,
    pseudonym(c_ip, $pseudonymize, $key_inner, $key_outer) AS c_ip,
    location,
    c_info,
    pseudonym(acting_as_user, $pseudonymize, $key_inner, $key_outer) AS acting_as_user,
    source_file, source_line
FROM hashed
ORDER BY severity_rank DESC, finding_ts, finding_id, evidence_no
