-- name: key-calls-over-time
-- description: Tenant-key calls per hour or day (the bucket) and operation, from the 15-minute key_calls_by_time rollup. The buckets are hours or days of the report's clock (`report --clock`): UTC, or the tenant's zone under `--clock local` (every UTC offset is a multiple of 15 minutes, so each rollup bucket falls in one local hour); bucket_start is the bucket's first instant, always in UTC. In the hour the clocks go back, each of the two local hours is its own bucket.
-- param: from_ts TIMESTAMP | first instant included
-- param: to_ts TIMESTAMP | first instant excluded
-- param: bucket VARCHAR = day | 'hour' or 'day'
-- param: clock_zone VARCHAR = UTC | IANA zone whose hours or days the buckets are
-- columns: bucket_start, operation, key_calls
WITH t AS (
    SELECT bucket_start AS ut, timezone($clock_zone, timezone('UTC', bucket_start)) AS lt,
           operation, calls
    FROM key_calls_by_time_between($from_ts, $to_ts)
)
SELECT
    CASE WHEN $bucket = 'hour'
         -- the local hour's start, less this instant's offset: its UTC instant (exact at
         -- a change of offset, where a wall-clock hour happens twice)
         THEN date_trunc('hour', lt) - (lt - ut)
         ELSE timezone('UTC', timezone($clock_zone, date_trunc('day', lt)))
    END AS bucket_start,
    operation,
    CAST(sum(calls) AS BIGINT) AS key_calls
FROM t
GROUP BY ALL
ORDER BY bucket_start, operation
