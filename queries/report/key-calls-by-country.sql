-- name: key-calls-by-country
-- description: Where the tenant key was used from: the period's tenant-key calls per country of the client IP (from the temp table ip_locations, which pipeline.geo fills from the location database; the report leaves this table empty without one). Addresses that are no place (private, carrier-grade NAT, Microsoft, corporate network, ...) are grouped under their label; addresses the database does not know, and calls without an IP, under "unknown".
-- param: from_ts TIMESTAMP | first instant included
-- param: to_ts TIMESTAMP | first instant excluded
-- columns: country_code, country, key_calls, share, ips, users
WITH per_ip AS (
    SELECT c_ip, CAST(sum(calls) AS BIGINT) AS key_calls, list(DISTINCT user_id) AS user_ids
    FROM key_calls_by_origin_between($from_ts, $to_ts)
    GROUP BY c_ip
),
placed AS (
    SELECT p.*,
           CASE WHEN l.label IS NOT NULL THEN NULL ELSE l.country_code END AS country_code,
           CASE l.label
                WHEN 'carrier-grade-nat' THEN 'carrier-grade NAT'
                WHEN 'microsoft' THEN 'Microsoft'
                WHEN 'corporate' THEN 'corporate network'
                WHEN 'invalid' THEN 'not an IP address'
                ELSE coalesce(l.label, l.country, 'unknown')
           END AS country
    FROM per_ip p
    LEFT JOIN ip_locations l USING (c_ip)
)
SELECT country_code, country,
       CAST(sum(key_calls) AS BIGINT) AS key_calls,
       round(sum(key_calls) / sum(sum(key_calls)) OVER (), 4) AS share,
       count(c_ip) AS ips,
       len(list_distinct(flatten(list(user_ids)))) AS users
FROM placed
GROUP BY country_code, country
ORDER BY key_calls DESC, country
