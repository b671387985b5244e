-- id: orphan-key-calls
-- title: Tenant-key calls with no originating request
-- severity: high
-- description: Tenant-key operations (KMSP*, KeyVault*) whose correlation-id matches no user request in the logs, grouped per UTC hour. Every legitimate use of the key is caused by a licensing request; an orphan means the key was used by something the logs do not explain, or logs are missing.
-- param: min_calls INTEGER = 1 | fewest orphan calls in an hour that make a finding
-- columns: entity, first_ts, last_ts, summary, evidence_row_ids, window_start
SELECT
    'tenant-key' AS entity,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    format('{} tenant-key call(s) with no originating request ({})',
           count(*), string_agg(DISTINCT operation, ', ' ORDER BY operation)) AS summary,
    list(row_id ORDER BY ts, row_id) AS evidence_row_ids,
    date_trunc('hour', ts) AS window_start
FROM key_usage
WHERE is_orphan
GROUP BY date_trunc('hour', ts)
HAVING count(*) >= $min_calls
