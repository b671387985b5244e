-- name: late-arrivals
-- description: Records of the period that arrived late: stored from a file ingested (at least ingest_gap) after another file that already held a later record, so a report run in between could not have seen them. ingested_at is a file's last read, so for a file read in several runs this is an upper bound.
-- param: from_ts TIMESTAMP | first instant included
-- param: to_ts TIMESTAMP | first instant excluded
-- param: ingest_gap INTERVAL = 5 minutes | files ingested closer together than this count as one run
-- columns: source_file, ingested_at, latest_ts_already_stored, late_records, first_late_ts, last_late_ts
WITH marks AS (
    SELECT f.path, f.ingested_at,
           (SELECT max(g.last_ts) FROM ingested_files g
            WHERE g.path <> f.path
              AND g.ingested_at <= f.ingested_at - CAST($ingest_gap AS INTERVAL)) AS watermark
    FROM ingested_files f
)
SELECT
    m.path AS source_file,
    m.ingested_at,
    m.watermark AS latest_ts_already_stored,
    count(*) AS late_records,
    min(r.ts) AS first_late_ts,
    max(r.ts) AS last_late_ts
FROM marks m
JOIN requests r ON r.source_file = m.path AND r.ts < m.watermark
WHERE r.ts >= CAST($from_ts AS TIMESTAMP) AND r.ts < CAST($to_ts AS TIMESTAMP)
GROUP BY ALL
ORDER BY m.ingested_at, source_file
