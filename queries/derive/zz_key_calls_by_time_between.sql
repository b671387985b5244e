-- name: key_calls_by_time_between
-- description: The key_calls_by_time rows for the instants [from_ts, to_ts), exact for any bounds: whole 15-minute buckets come from the rollup table, the partial buckets at either edge are aggregated from key_usage. Sum their counts.
CREATE OR REPLACE MACRO key_calls_by_time_between(from_ts, to_ts) AS TABLE
SELECT * FROM key_calls_by_time
WHERE bucket_start >= time_bucket(INTERVAL 15 MINUTE, CAST(from_ts AS TIMESTAMP) - INTERVAL 1 MICROSECOND) + INTERVAL 15 MINUTE
  AND bucket_start < time_bucket(INTERVAL 15 MINUTE, CAST(to_ts AS TIMESTAMP))
UNION ALL
SELECT * FROM key_calls_by_time_of(
    from_ts,
    least(time_bucket(INTERVAL 15 MINUTE, CAST(from_ts AS TIMESTAMP) - INTERVAL 1 MICROSECOND) + INTERVAL 15 MINUTE,
          CAST(to_ts AS TIMESTAMP)))
UNION ALL
SELECT * FROM key_calls_by_time_of(
    greatest(time_bucket(INTERVAL 15 MINUTE, CAST(to_ts AS TIMESTAMP)),
             time_bucket(INTERVAL 15 MINUTE, CAST(from_ts AS TIMESTAMP) - INTERVAL 1 MICROSECOND) + INTERVAL 15 MINUTE),
    to_ts)
