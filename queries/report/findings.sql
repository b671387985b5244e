-- name: findings
-- description: Findings whose window overlaps the period, most severe first, with their triage state (`rmslog triage`; open when never triaged) and the suppression that applies at $now (`rmslog suppress`; suppressed findings are listed, in the report's appendix). Under --pseudonymize, user and IP entities are hashed and the free-text summary and triage note are withheld (they may name people).
-- param: from_ts TIMESTAMP | first instant included
-- param: to_ts TIMESTAMP | first instant excluded
-- param: pseudonymize BOOLEAN = false | replace user ids and IPs by keyed hashes
-- param: key_inner BLOB | HMAC-SHA256 inner padded key (bound, never stored)
-- param: key_outer BLOB | HMAC-SHA256 outer padded key (bound, never stored)
-- param: now TIMESTAMP | the report's clock (UTC): which suppressions apply
-- columns: finding_id, rule, severity, severity_rank, first_ts, last_ts, entity, summary, evidence_count, status, owner, note, triaged_at, triaged_by, suppressed, suppression_id, suppression_reason, suppression_owner, suppressed_until
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
    finding_id, f.rule, f.severity, f.severity_rank, f.first_ts, f.last_ts,
    pseudonym(f.entity, f.hide_entity, $key_inner, $key_outer) AS entity,
    CASE WHEN $pseudonymize
         THEN 'summary withheld: the report is pseudonymised and the text may name people'
         ELSE f.summary END AS summary,
    coalesce(len(f.evidence_row_ids), 0) AS evidence_count,
    coalesce(s.status, 'open') AS status,
    s.owner,
    CASE WHEN $pseudonymize AND s.note IS NOT NULL
         THEN 'note withheld: the report is pseudonymised and the text may name people'
         ELSE s.note END AS note,
    s.changed_at AS triaged_at,
    s.changed_by AS triaged_by,
    p.suppression_id IS NOT NULL AS suppressed,
    p.suppression_id,
    p.reason AS suppression_reason,
    p.owner AS suppression_owner,
    p.until AS suppressed_until
FROM f
LEFT JOIN finding_status s USING (finding_id)
LEFT JOIN active_suppressions(CAST($now AS TIMESTAMP)) p
    ON p.rule = f.rule AND p.entity = f.entity
ORDER BY f.severity_rank DESC, f.first_ts, finding_id
