-- name: key_calls_by_origin
-- description: Rollup of key_usage per UTC day and origin (user, document, file name, owner, client IP, client info), over the instants [lo, hi).
-- param: lo TIMESTAMP | first instant included (a UTC midnight when maintained)
-- param: hi TIMESTAMP | first instant excluded
-- columns: day, user_id, content_id, file_name, owner_email, c_ip, c_info, calls, decrypts, signs, failures, orphans, first_ts, last_ts
CREATE OR REPLACE MACRO key_calls_by_origin_of(lo, hi) AS TABLE
SELECT CAST(ts AS DATE) AS day, user_id, content_id, file_name, owner_email, c_ip, c_info,
       count(*) AS calls,
       count(*) FILTER (WHERE operation ILIKE '%decrypt%') AS decrypts,
       count(*) FILTER (WHERE operation ILIKE '%sign%') AS signs,
       count(*) FILTER (WHERE result IS DISTINCT FROM 'Success') AS failures,
       count(*) FILTER (WHERE is_orphan) AS orphans,
       min(ts) AS first_ts, max(ts) AS last_ts
FROM key_usage
WHERE ts >= CAST(lo AS TIMESTAMP) AND ts < CAST(hi AS TIMESTAMP)
GROUP BY ALL
