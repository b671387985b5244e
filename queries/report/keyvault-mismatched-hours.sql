-- name: keyvault-mismatched-hours
-- description: The settled UTC hours of the period in which RMS and Key Vault disagree about a pair of operations, as key-log-mismatch judges them (with its parameters): one log holds at least mismatch_min_calls calls and the other fewer than mismatch_max_share of as many.
-- param: from_ts TIMESTAMP | first instant included
-- param: to_ts TIMESTAMP | first instant excluded
-- param: mismatch_min_calls INTEGER = 5 | key-log-mismatch's min_calls
-- param: mismatch_max_share DOUBLE = 0.5 | key-log-mismatch's max_share
-- columns: window_start, rms_request_type, rms_calls, operation, kv_calls, kv_other_calls
SELECT window_start, rms_request_type, rms_calls, operation, kv_calls, kv_other_calls
FROM keyvault_reconciliation
WHERE grain = 'hour' AND settled
  AND window_start >= CAST($from_ts AS TIMESTAMP) AND window_start < CAST($to_ts AS TIMESTAMP)
  AND greatest(rms_calls, kv_calls) >= $mismatch_min_calls
  AND least(rms_calls, kv_calls) < $mismatch_max_share * greatest(rms_calls, kv_calls)
ORDER BY window_start, operation
