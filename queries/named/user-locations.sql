-- name: user-locations
-- title: Where a user came from
-- description: The IP addresses and applications one user's requests came from, with first and last use of each: a second IP or an unusual app stands out.
-- param: user VARCHAR | user id as logged (case-insensitive)
-- param: from_ts TIMESTAMP = 1970-01-01 00:00:00 | first instant included (UTC)
-- param: to_ts TIMESTAMP = 9999-12-31 00:00:00 | first instant excluded (UTC)
-- columns: c_ip, app_name, os_name, requests, documents, failures, first_ts, last_ts
SELECT r.c_ip, ci.app_name, ci.os_name, count(*) AS requests,
       count(DISTINCT r.content_id) AS documents,
       count(*) FILTER (WHERE r.result IS DISTINCT FROM 'Success') AS failures,
       min(r.ts) AS first_ts, max(r.ts) AS last_ts
FROM requests r
LEFT JOIN client_info ci USING (c_info)
WHERE lower(r.user_id) = lower(trim($user))
  AND r.ts >= $from_ts AND r.ts < $to_ts
GROUP BY ALL
ORDER BY first_ts, r.c_ip
