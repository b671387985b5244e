-- name: failed-requests-by-user
-- title: Failed requests by user
-- description: User requests that did not succeed, per user, request type and result (e.g. AccessDenied), with first and last failure; tenant-key calls are in key-call-failures.
-- param: from_ts TIMESTAMP = 1970-01-01 00:00:00 | first instant included (UTC)
-- param: to_ts TIMESTAMP = 9999-12-31 00:00:00 | first instant excluded (UTC)
-- columns: user_id, request_type, result, failures, documents, ips, first_ts, last_ts
SELECT r.user_id, r.request_type, r.result, count(*) AS failures,
       count(DISTINCT r.content_id) AS documents, count(DISTINCT r.c_ip) AS ips,
       min(r.ts) AS first_ts, max(r.ts) AS last_ts
FROM requests r
WHERE r.result IS DISTINCT FROM 'Success'
  AND r.request_type NOT IN (SELECT name FROM request_types WHERE key_topology IS NOT NULL)
  AND r.ts >= $from_ts AND r.ts < $to_ts
GROUP BY ALL
ORDER BY failures DESC, r.user_id, r.request_type, r.result
