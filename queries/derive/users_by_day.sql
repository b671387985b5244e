-- name: users_by_day
-- description: Rollup of requests per UTC day and user (who was active when), over the instants [lo, hi).
-- param: lo TIMESTAMP | first instant included (a UTC midnight when maintained)
-- param: hi TIMESTAMP | first instant excluded
-- columns: day, user_id, requests
CREATE OR REPLACE MACRO users_by_day_of(lo, hi) AS TABLE
SELECT CAST(ts AS DATE) AS day, user_id, count(*) AS requests
FROM requests
WHERE ts >= CAST(lo AS TIMESTAMP) AND ts < CAST(hi AS TIMESTAMP)
GROUP BY ALL
