-- id: source-changed
-- title: Source log file changed after it was read
-- severity: high
-- description: A log file whose bytes, already read into the warehouse, hashed differently when ingest read it again (an edit such as `sed -i`, a truncation, a file replaced under the same name): what the warehouse holds is no longer backed by the file. One finding per file, from its first integrity event (`integrity_events`); its evidence is the stored records whose key came back with other values (`conflicts`). Not a scenario of the simulator: it judges the evidence, not the tenant.
-- lookback_days: 0
-- lookahead_days: 0
-- judge: every-run
-- columns: entity, first_ts, last_ts, summary, evidence_row_ids, window_start
WITH events AS (
    SELECT path, count(*) AS events, min(detected_at) AS first_seen, max(detected_at) AS last_seen,
           arg_min(byte_end, detected_at) AS byte_end
    FROM integrity_events
    GROUP BY path
),
changed AS (
    SELECT source_file AS path, count(*) AS records,
           list(DISTINCT row_id ORDER BY row_id) AS row_ids
    FROM conflicts
    WHERE source_file IN (SELECT path FROM events)
    GROUP BY source_file
)
SELECT
    e.path AS entity,
    coalesce(f.first_ts, e.first_seen) AS first_ts,
    coalesce(f.last_ts, e.last_seen) AS last_ts,
    format('Bytes already read changed ({} time(s), first seen {}: the first {} bytes no longer hash as stored); {} stored record(s) came back with other values',
           e.events, strftime(e.first_seen, '%Y-%m-%d %H:%M:%S'), e.byte_end,
           coalesce(c.records, 0)) AS summary,
    coalesce(c.row_ids, []::VARCHAR[]) AS evidence_row_ids,
    e.first_seen AS window_start
FROM events e
LEFT JOIN ingested_files f ON f.path = e.path
LEFT JOIN changed c ON c.path = e.path
