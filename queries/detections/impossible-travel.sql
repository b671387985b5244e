-- id: impossible-travel
-- title: One account in two places farther apart than any flight could cover in the time between
-- severity: high
-- description: Needs a location database (geoip in the settings, or detect --geoip): without one no address has a place and this rule finds nothing (new-network is the geography-free signal). A user's located requests form stays (consecutive requests in one place: the same city, else the same coordinates). When a user arrives at a place that is new to them (not visited in the baseline_days before; in the first days of a collection, not in the baseline_days after either) and whose network fewer than tenant_common_users other people use in the baseline_days around (a corporate VPN exit or a mobile carrier's pools are shared, hence familiar), the journey from the stay before is judged: the great-circle distance minus both locations' accuracy radius, divided by the time between the last request there and the first request here. A finding when that distance exceeds min_distance_km and the speed exceeds max_speed_kmh (no airliner flies faster than about 900 km/h). Changing networks within one city or within the accuracy radius is never travel; a plausible flight is not a finding; only the arrival at a new place is judged, so a traveller whose phone keeps its home carrier abroad does not fire on every hop back. A user with fewer than min_history_days active days around a journey is in a learning period, not judged. Private, carrier-grade NAT, Microsoft service and declared corporate addresses carry no location; service accounts from the settings are ignored.
-- lookback_days: baseline_days
-- lookahead_days: baseline_days
-- param: max_speed_kmh DOUBLE = 900 | a journey faster than this is impossible (airliners cruise below it)
-- param: min_distance_km DOUBLE = 200 | journeys shorter than this beyond both accuracy radii are never travel
-- param: baseline_days INTEGER = 14 | days of the user's history that make a place familiar
-- param: min_history_days INTEGER = 3 | active days a user needs in the baseline before places are judged on the past alone
-- param: tenant_common_users INTEGER = 3 | a network used by at least this many other people in the baseline days before or after is familiar to everyone
-- param: service_accounts LIST | from the settings: accounts this rule ignores
-- columns: entity, first_ts, last_ts, summary, evidence_row_ids, window_start, learning
WITH places AS MATERIALIZED (
    SELECT c_ip, network, latitude, longitude, accuracy_radius,
           coalesce(country_code || '|' || city,
                    printf('%.1f,%.1f', latitude, longitude)) AS place,
           coalesce(city || ', ' || coalesce(country_code, country),
                    country || printf(' (%.2f, %.2f)', latitude, longitude),
                    printf('%.2f, %.2f', latitude, longitude)) AS place_name
    FROM ip_locations
    WHERE latitude IS NOT NULL AND longitude IS NOT NULL AND label IS NULL
),
located AS (
    -- Narrow rows through the windows below; a stay's coordinates are joined after them.
    SELECT r.user_id, r.ts, r.row_id, r.c_ip, p.place, r.ts::DATE AS day
    FROM requests r
    JOIN places p ON p.c_ip = r.c_ip
    WHERE r.user_id IS NOT NULL
      AND r.user_id NOT IN (SELECT user_id FROM service_users('requests', $service_accounts))
),
marked AS (
    SELECT *, coalesce(place <> lag(place) OVER w, true) AS starts_stay
    FROM located
    WINDOW w AS (PARTITION BY user_id ORDER BY ts, row_id)
),
numbered AS MATERIALIZED (
    SELECT *, sum(starts_stay::INTEGER) OVER (PARTITION BY user_id ORDER BY ts, row_id) AS stay
    FROM marked
),
stays AS MATERIALIZED (
    SELECT n.user_id, n.stay, any_value(n.place) AS place, any_value(p.place_name) AS place_name,
           min(n.ts) AS first_ts, max(n.ts) AS last_ts, min(n.ts)::DATE AS day,
           arg_min(n.row_id, (n.ts, n.row_id)) AS first_row,
           arg_max(n.row_id, (n.ts, n.row_id)) AS last_row,
           arg_min(n.c_ip, (n.ts, n.row_id)) AS first_ip,
           arg_max(n.c_ip, (n.ts, n.row_id)) AS last_ip,
           arg_min(p.network, (n.ts, n.row_id)) AS first_network,
           avg(p.latitude) AS lat, avg(p.longitude) AS lon,
           max(coalesce(p.accuracy_radius, 0)) AS radius
    FROM numbered n
    JOIN places p ON p.c_ip = n.c_ip
    GROUP BY n.user_id, n.stay
),
place_days AS (
    SELECT DISTINCT user_id, place, day FROM located
),
user_active AS (
    SELECT DISTINCT user_id, 0 AS used, day FROM place_days
),
user_days AS (
    SELECT * FROM days_of_use('user_active', $baseline_days)
),
familiarity AS (
    SELECT p.user_id, p.place, p.day, u.around_days >= $min_history_days AS judgeable,
           NOT coalesce(lag(p.day) OVER w >= p.day - $baseline_days, false)
           AND (u.prior_days >= $min_history_days
                OR NOT coalesce(lead(p.day) OVER w <= p.day + $baseline_days, false)) AS novel
    FROM place_days p
    JOIN user_days u USING (user_id, day)
    WINDOW w AS (PARTITION BY p.user_id, p.place ORDER BY p.day)
),
journeys AS (
    -- Each first arrival of the day at a place new to the user, from the stay before it.
    SELECT s.user_id, s.stay, s.place_name AS to_name, s.first_ts AS arrived, s.first_ip,
           s.first_network, s.day, f.judgeable,
           lag(s.place_name) OVER w AS from_name, lag(s.last_ts) OVER w AS left_ts,
           lag(s.last_ip) OVER w AS from_ip, lag(s.last_row) OVER w AS from_row,
           greatest(0, 2 * 6371.0 * asin(sqrt(
               pow(sin(radians(s.lat - lag(s.lat) OVER w) / 2), 2)
               + cos(radians(s.lat)) * cos(radians(lag(s.lat) OVER w))
                 * pow(sin(radians(s.lon - lag(s.lon) OVER w) / 2), 2)))
               - s.radius - lag(s.radius) OVER w) AS excess_km,
           f.novel AND row_number() OVER (PARTITION BY s.user_id, s.place, s.day
                                          ORDER BY s.first_ts) = 1 AS first_arrival
    FROM stays s
    JOIN familiarity f USING (user_id, place, day)
    WINDOW w AS (PARTITION BY s.user_id ORDER BY s.first_ts)
),
impossible AS (
    SELECT *, excess_km / greatest(epoch(arrived - left_ts) / 3600.0, 1e-9) AS speed_kmh
    FROM journeys
    WHERE first_arrival AND left_ts IS NOT NULL
      AND excess_km > $min_distance_km
      AND excess_km > $max_speed_kmh * epoch(arrived - left_ts) / 3600.0
),
tenant AS (
    -- How many other people used the arrival's network in the baseline days around it.
    SELECT i.user_id, i.stay, count(DISTINCT n.user_id) AS others
    FROM impossible i
    LEFT JOIN (
        -- Only the networks of impossible journeys (a handful) are counted.
        SELECT DISTINCT l.user_id, p.network, l.day
        FROM located l
        JOIN places p ON p.c_ip = l.c_ip
        WHERE p.network IN (SELECT first_network FROM impossible)
    ) n
           ON n.network = i.first_network AND n.user_id <> i.user_id
          AND n.day BETWEEN i.day - $baseline_days AND i.day + $baseline_days
    GROUP BY ALL
),
unfamiliar AS (
    SELECT i.* FROM impossible i JOIN tenant t USING (user_id, stay)
    WHERE t.others < $tenant_common_users
),
evidence AS (
    -- The requests of each arrival's stay (listed for these few stays only).
    SELECT u.user_id, u.stay, list(n.row_id ORDER BY n.ts, n.row_id) AS row_ids
    FROM unfamiliar u
    JOIN numbered n ON n.user_id = u.user_id AND n.stay = u.stay
    GROUP BY u.user_id, u.stay
)
SELECT
    user_id AS entity,
    left_ts AS first_ts,
    arrived AS last_ts,
    format('{} was in {} ({}) at {} UTC and in {} ({}) {} minutes later: {} km apart beyond both locations'' accuracy, {} km/h',
           user_id, from_name, from_ip, strftime(left_ts, '%Y-%m-%d %H:%M'), to_name, first_ip,
           round(epoch(arrived - left_ts) / 60)::BIGINT, round(excess_km)::BIGINT,
           CASE WHEN arrived > left_ts THEN round(speed_kmh)::BIGINT::VARCHAR
                ELSE 'at once' END) AS summary,
    list_prepend(from_row, row_ids) AS evidence_row_ids,
    left_ts AS window_start,
    NOT judgeable AS learning
FROM unfamiliar
JOIN evidence USING (user_id, stay)
