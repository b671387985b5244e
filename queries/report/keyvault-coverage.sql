-- name: keyvault-coverage
-- description: What the warehouse holds of Key Vault AuditEvent logs, whatever the period: files, records, and the first and last record (UTC); all zero or NULL without Key Vault logs (the reconciliation and the Key Vault rules are then not applicable).
-- columns: files, records, first_ts, last_ts, records_in_period
-- param: from_ts TIMESTAMP | first instant included
-- param: to_ts TIMESTAMP | first instant excluded
SELECT (SELECT count(*) FROM ingested_files WHERE kind = 'keyvault') AS files,
       count(*) AS records,
       min(ts) AS first_ts,
       max(ts) AS last_ts,
       count(*) FILTER (WHERE ts >= CAST($from_ts AS TIMESTAMP) AND ts < CAST($to_ts AS TIMESTAMP))
           AS records_in_period
FROM keyvault_events
