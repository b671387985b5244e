-- name: requests_by_hour
-- description: Rollup of requests per UTC hour (coverage: which hours hold records), over the instants [lo, hi).
-- param: lo TIMESTAMP | first instant included (a UTC midnight when maintained)
-- param: hi TIMESTAMP | first instant excluded
-- columns: hour, requests, first_ts, last_ts
CREATE OR REPLACE MACRO requests_by_hour_of(lo, hi) AS TABLE
SELECT date_trunc('hour', ts) AS hour, count(*) AS requests, min(ts) AS first_ts,
       max(ts) AS last_ts
FROM requests
WHERE ts >= CAST(lo AS TIMESTAMP) AND ts < CAST(hi AS TIMESTAMP)
GROUP BY ALL
