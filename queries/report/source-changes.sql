-- name: source-changes
-- description: Source files whose bytes, already read, hashed differently when ingest read them again (integrity_events), for files whose records overlap the period or that stored none; with the stored records that came back with other values (conflicts) and the source-changed finding, NULL until detect has run on them.
-- param: from_ts TIMESTAMP | first instant included
-- param: to_ts TIMESTAMP | first instant excluded
-- columns: path, events, first_seen, last_seen, bytes_changed_within, conflicts, finding_id
WITH events AS (
    SELECT path, count(*) AS events, min(detected_at) AS first_seen,
           max(detected_at) AS last_seen, arg_min(byte_end, detected_at) AS bytes_changed_within
    FROM integrity_events
    GROUP BY path
)
SELECT
    e.path, e.events, e.first_seen, e.last_seen, e.bytes_changed_within,
    (SELECT count(*) FROM conflicts c WHERE c.source_file = e.path) AS conflicts,
    (SELECT min(x.finding_id) FROM findings x
     WHERE x.rule = 'source-changed' AND x.entity = e.path) AS finding_id
FROM events e
LEFT JOIN ingested_files f ON f.path = e.path
WHERE f.first_ts IS NULL
   OR (f.last_ts >= CAST($from_ts AS TIMESTAMP) AND f.first_ts < CAST($to_ts AS TIMESTAMP))
ORDER BY e.first_seen, e.path
