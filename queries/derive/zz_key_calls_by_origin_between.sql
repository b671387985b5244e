-- name: key_calls_by_origin_between
-- description: The key_calls_by_origin rows for the instants [from_ts, to_ts), exact for any bounds: whole UTC days come from the rollup table, the partial days at either edge are aggregated from key_usage. Sum their counts; take min/max of their times.
CREATE OR REPLACE MACRO key_calls_by_origin_between(from_ts, to_ts) AS TABLE
SELECT * FROM key_calls_by_origin
WHERE day >= CAST(date_trunc('day', CAST(from_ts AS TIMESTAMP) - INTERVAL 1 MICROSECOND) + INTERVAL 1 DAY AS DATE)
  AND day < CAST(date_trunc('day', CAST(to_ts AS TIMESTAMP)) AS DATE)
UNION ALL
SELECT * FROM key_calls_by_origin_of(
    from_ts,
    least(date_trunc('day', CAST(from_ts AS TIMESTAMP) - INTERVAL 1 MICROSECOND) + INTERVAL 1 DAY,
          CAST(to_ts AS TIMESTAMP)))
UNION ALL
SELECT * FROM key_calls_by_origin_of(
    greatest(CAST(date_trunc('day', CAST(to_ts AS TIMESTAMP)) AS TIMESTAMP),
             date_trunc('day', CAST(from_ts AS TIMESTAMP) - INTERVAL 1 MICROSECOND) + INTERVAL 1 DAY),
    to_ts)
