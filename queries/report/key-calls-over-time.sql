-- name: key-calls-over-time
-- description: Tenant-key calls per UTC hour or day (the bucket) and operation (from the key_calls_by_time rollup).
-- param: from_ts TIMESTAMP | first instant included
-- param: to_ts TIMESTAMP | first instant excluded
-- param: bucket VARCHAR = day | 'hour' or 'day'
-- columns: bucket_start, operation, key_calls
SELECT date_trunc($bucket, bucket_start) AS bucket_start, operation,
       CAST(sum(calls) AS BIGINT) AS key_calls
FROM key_calls_by_time_between($from_ts, $to_ts)
GROUP BY ALL
ORDER BY bucket_start, operation
