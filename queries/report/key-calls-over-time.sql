-- name: key-calls-over-time
-- description: Tenant-key calls per UTC hour or day (the bucket) and operation.
-- param: bucket VARCHAR = day | 'hour' or 'day'
-- columns: bucket_start, operation, key_calls
SELECT date_trunc($bucket, ts) AS bucket_start, operation, count(*) AS key_calls
FROM report_key_usage
GROUP BY ALL
ORDER BY bucket_start, operation
