-- name: coverage-gaps
-- description: (From the requests_by_hour rollup.) Stretches of whole UTC hours in the period (up to now) with no log record at all; whole_days counts the complete UTC days inside each gap, after_latest_record marks a gap after the newest stored record (logs not downloaded yet, or logging stopped).
-- param: from_ts TIMESTAMP | first instant included
-- param: to_ts TIMESTAMP | first instant excluded
-- param: now TIMESTAMP | hours from the current one on cannot have logs yet
-- columns: gap_start, gap_end, hours, whole_days, after_latest_record
WITH bounds AS (
    SELECT CAST($from_ts AS TIMESTAMP) AS lo,
           least(CAST($to_ts AS TIMESTAMP), date_trunc('hour', CAST($now AS TIMESTAMP))) AS hi
),
hours AS (
    SELECT unnest(generate_series(lo, hi - INTERVAL 1 HOUR, INTERVAL 1 HOUR)) AS hour
    FROM bounds
    WHERE hi > lo
),
seen AS (
    SELECT hour
    FROM requests_by_hour
    WHERE hour >= CAST($from_ts AS TIMESTAMP) AND requests > 0
),
empty AS (
    SELECT hour, hour - to_hours(row_number() OVER (ORDER BY hour)) AS island
    FROM hours
    WHERE hour NOT IN (SELECT hour FROM seen)
),
gaps AS (
    SELECT min(hour) AS gap_start, max(hour) + INTERVAL 1 HOUR AS gap_end, count(*) AS hours
    FROM empty
    GROUP BY island
)
SELECT
    gap_start, gap_end, hours,
    greatest(0, datediff('day',
        CASE WHEN gap_start = date_trunc('day', gap_start) THEN gap_start
             ELSE date_trunc('day', gap_start) + INTERVAL 1 DAY END,
        date_trunc('day', gap_end))) AS whole_days,
    gap_start > coalesce((SELECT max(last_ts) FROM requests_by_hour), TIMESTAMP '0001-01-01') AS after_latest_record
FROM gaps
ORDER BY gap_start
