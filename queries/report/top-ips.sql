-- name: top-ips
-- description: The client IP addresses behind the most tenant-key calls in the period, from the key_calls_by_origin rollup, with where each is (from the temp table ip_locations; the report drops the column when no location database is set); IPs pseudonymised on request.
-- param: from_ts TIMESTAMP | first instant included
-- param: to_ts TIMESTAMP | first instant excluded
-- param: top INTEGER = 20 | how many rows
-- param: pseudonymize BOOLEAN = false | replace user ids and IPs by keyed hashes
-- param: key_inner BLOB | HMAC-SHA256 inner padded key (bound, never stored)
-- param: key_outer BLOB | HMAC-SHA256 outer padded key (bound, never stored)
-- columns: c_ip, location, key_calls, share, users
WITH per_ip AS (
    SELECT c_ip, CAST(sum(calls) AS BIGINT) AS key_calls, count(DISTINCT user_id) AS users
    FROM key_calls_by_origin_between($from_ts, $to_ts)
    GROUP BY c_ip
),
shown AS (
    SELECT
        pseudonym(c_ip, $pseudonymize, $key_inner, $key_outer) AS c_ip,
        CASE l.label
            WHEN 'carrier-grade-nat' THEN 'carrier-grade NAT'
            WHEN 'microsoft' THEN 'Microsoft'
            WHEN 'corporate' THEN 'corporate network'
            WHEN 'invalid' THEN 'not an IP address'
            ELSE coalesce(l.label, nullif(concat_ws(', ', l.city, l.country_code), ''), l.country)
        END AS location,
        key_calls,
        round(key_calls / sum(key_calls) OVER (), 4) AS share,
        users
    FROM per_ip
    LEFT JOIN ip_locations l USING (c_ip)
)
SELECT * FROM shown
ORDER BY key_calls DESC, c_ip NULLS LAST
LIMIT $top
