-- name: key_calls_by_time
-- description: Rollup of key_usage per 15-minute UTC bucket (every time zone's offset is a multiple of 15 minutes, so local hours add up exactly), operation and key topology, over the instants [lo, hi).
-- param: lo TIMESTAMP | first instant included (a UTC midnight when maintained)
-- param: hi TIMESTAMP | first instant excluded
-- columns: bucket_start, operation, key_topology, calls, failures, orphans
CREATE OR REPLACE MACRO key_calls_by_time_of(lo, hi) AS TABLE
SELECT time_bucket(INTERVAL 15 MINUTE, ts) AS bucket_start, operation, key_topology,
       count(*) AS calls,
       count(*) FILTER (WHERE result IS DISTINCT FROM 'Success') AS failures,
       count(*) FILTER (WHERE is_orphan) AS orphans
FROM key_usage
WHERE ts >= CAST(lo AS TIMESTAMP) AND ts < CAST(hi AS TIMESTAMP)
GROUP BY ALL
