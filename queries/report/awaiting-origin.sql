-- name: awaiting-origin
-- description: Orphan tenant-key calls of the period not judged yet: neither a record grace_minutes newer is stored nor have grace_minutes passed since the ingest that stored them, so their origin may still arrive. The judgement is that of the orphan-key-calls rule.
-- param: from_ts TIMESTAMP | first instant included
-- param: to_ts TIMESTAMP | first instant excluded
-- param: grace_minutes INTEGER = 15 | the orphan-key-calls rule's grace window
-- param: now TIMESTAMP | when the judgement is made (UTC)
-- param: newest_ts TIMESTAMP | the newest record in the warehouse
-- columns: awaiting_origin
SELECT count(*) AS awaiting_origin
FROM key_usage k
JOIN requests r ON r.row_id = k.row_id
JOIN ingest_runs i ON i.run_id = r.run_id
WHERE k.is_orphan
  AND k.ts >= CAST($from_ts AS TIMESTAMP) AND k.ts < CAST($to_ts AS TIMESTAMP)
  AND k.ts > CAST($newest_ts AS TIMESTAMP) - to_minutes($grace_minutes)
  AND i.started_at > CAST($now AS TIMESTAMP) - to_minutes($grace_minutes)
