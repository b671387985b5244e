-- name: findings
-- description: Findings whose window overlaps the period, most severe first. Under --pseudonymize, user and IP entities are hashed and the free-text summary is withheld (it may name people).
-- param: from_ts TIMESTAMP | first instant included
-- param: to_ts TIMESTAMP | first instant excluded
-- param: pseudonymize BOOLEAN = false | replace user ids and IPs by keyed hashes
-- param: key_inner BLOB | HMAC-SHA256 inner padded key (bound, never stored)
-- param: key_outer BLOB | HMAC-SHA256 outer padded key (bound, never stored)
-- columns: finding_id, rule, severity, severity_rank, first_ts, last_ts, entity, summary, evidence_count
WITH f AS (
    SELECT *,
        CASE severity WHEN 'low' THEN 1 WHEN 'medium' THEN 2 WHEN 'high' THEN 3
             ELSE 3 END AS severity_rank,  -- an unknown severity counts as high: fail safe
        $pseudonymize AND entity IS NOT NULL AND entity <> 'tenant-key'
            AND NOT regexp_full_match(entity, '\{[0-9A-Fa-f-]+\}') AS hide_entity
    FROM findings
    WHERE last_ts >= CAST($from_ts AS TIMESTAMP) AND first_ts < CAST($to_ts AS TIMESTAMP)
)
SELECT
    finding_id, rule, severity, severity_rank, first_ts, last_ts,
    pseudonym(entity, hide_entity, $key_inner, $key_outer) AS entity,
    CASE WHEN $pseudonymize
         THEN 'summary withheld: the report is pseudonymised and the text may name people'
         ELSE summary END AS summary,
    coalesce(len(evidence_row_ids), 0) AS evidence_count
FROM f
ORDER BY severity_rank DESC, first_ts, finding_id
