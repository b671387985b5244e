-- name: key-topologies
-- title: Tenant-key topologies: first and last seen
-- description: Each key topology seen in the logs (byok-legacy, byok-keyvault) with its first and last call, days seen, calls and orphans: shows when a key migration started and finished.
-- columns: key_topology, first_seen, last_seen, days_seen, calls, orphans
SELECT key_topology, min(ts) AS first_seen, max(ts) AS last_seen,
       count(DISTINCT CAST(ts AS DATE)) AS days_seen, count(*) AS calls,
       count(*) FILTER (WHERE is_orphan) AS orphans
FROM key_usage
GROUP BY key_topology
ORDER BY first_seen
