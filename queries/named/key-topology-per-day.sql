-- name: key-topology-per-day
-- title: Tenant-key topology per day
-- description: Tenant-key calls per UTC day and topology, with each topology's share of that day's calls: a rekey to Key Vault shows as a share ramping up over weeks. (Read from the key_calls_by_time rollup.)
-- param: from_ts TIMESTAMP = 1970-01-01 00:00:00 | first instant included (UTC)
-- param: to_ts TIMESTAMP = 9999-12-31 00:00:00 | first instant excluded (UTC)
-- columns: day, key_topology, calls, share
WITH daily AS (
    SELECT CAST(bucket_start AS DATE) AS day, key_topology, CAST(sum(calls) AS BIGINT) AS calls
    FROM key_calls_by_time_between($from_ts, $to_ts)
    GROUP BY ALL
)
SELECT day, key_topology, calls, round(calls / sum(calls) OVER (PARTITION BY day), 4) AS share
FROM daily
ORDER BY day, key_topology
