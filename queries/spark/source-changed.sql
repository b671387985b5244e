-- Generated from queries/detections/source-changed.sql by pipeline/spark/generate.py (sqlglot 30.30.0); do not edit.
/* id: source-changed */
/* title: Source log file changed after it was read */
/* severity: high */
/* description: A log file whose bytes, already read into the warehouse, hashed differently when ingest read it again (an edit such as `sed -i`, a truncation, a file replaced under the same name): what the warehouse holds is no longer backed by the file. One finding per file, from its first integrity event (`integrity_events`); its evidence is the stored records whose key came back with other values (`conflicts`). Not a scenario of the simulator: it judges the evidence, not the tenant. */
/* lookback_days: 0 */
/* lookahead_days: 0 */
/* judge: every-run */
/* columns: entity, first_ts, last_ts, summary, evidence_row_ids, window_start */
WITH events AS (
  SELECT
    path,
    COUNT(*) AS events,
    MIN(detected_at) AS first_seen,
    MAX(detected_at) AS last_seen,
    MIN_BY(byte_end, detected_at) AS byte_end
  FROM integrity_events
  GROUP BY
    path
), changed AS (
  SELECT
    source_file AS path,
    COUNT(*) AS records,
    CASE
      WHEN COUNT_IF(row_id IS NULL) > 0
      THEN ARRAY_APPEND(ARRAY_SORT(COLLECT_SET(row_id)), NULL)
      ELSE IF(SIZE(ARRAY_SORT(COLLECT_SET(row_id))) = 0, NULL, ARRAY_SORT(COLLECT_SET(row_id)))
    END AS row_ids
  FROM conflicts
  WHERE
    source_file IN (
      SELECT
        path
      FROM events
    )
  GROUP BY
    source_file
)
SELECT
  e.path AS entity,
  COALESCE(f.first_ts, e.first_seen) AS first_ts,
  COALESCE(f.last_ts, e.last_seen) AS last_ts,
  IF(
    CAST(e.events AS STRING) IS NULL
    OR CAST(DATE_FORMAT(e.first_seen, 'yyyy-MM-dd HH:mm:ss') AS STRING) IS NULL
    OR CAST(e.byte_end AS STRING) IS NULL
    OR CAST(COALESCE(c.records, 0) AS STRING) IS NULL,
    NULL,
    FORMAT_STRING(
      'Bytes already read changed (%s time(s), first seen %s: the first %s bytes no longer hash as stored); %s stored record(s) came back with other values',
      CAST(e.events AS STRING),
      CAST(DATE_FORMAT(e.first_seen, 'yyyy-MM-dd HH:mm:ss') AS STRING),
      CAST(e.byte_end AS STRING),
      CAST(COALESCE(c.records, 0) AS STRING)
    )
  ) AS summary,
  COALESCE(c.row_ids, CAST(CAST(ARRAY() AS ARRAY<STRING>) AS ARRAY<STRING>)) AS evidence_row_ids,
  e.first_seen AS window_start
FROM events AS e
LEFT JOIN ingested_files AS f
  ON f.path = e.path
LEFT JOIN changed AS c
  ON c.path = e.path
