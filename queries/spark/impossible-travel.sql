-- Generated from queries/detections/impossible-travel.sql by pipeline/spark/generate.py (sqlglot 30.30.0); do not edit.
/* id: impossible-travel */
/* title: One account in two places farther apart than any flight could cover in the time between */
/* severity: high */
/* description: Needs a location database (geoip in the settings, or detect --geoip): without one no address has a place and this rule finds nothing (new-network is the geography-free signal). A user's located requests form stays (consecutive requests in one place: the same city, else the same coordinates). When a user arrives at a place that is new to them (not visited in the baseline_days before; in the first days of a collection, not in the baseline_days after either) and whose network fewer than tenant_common_users other people use in the baseline_days around (a corporate VPN exit or a mobile carrier's pools are shared, hence familiar), the journey from the stay before is judged: the great-circle distance minus both locations' accuracy radius, divided by the time between the last request there and the first request here. A finding when that distance exceeds min_distance_km and the speed exceeds max_speed_kmh (no airliner flies faster than about 900 km/h). Changing networks within one city or within the accuracy radius is never travel; a plausible flight is not a finding; only the arrival at a new place is judged, so a traveller whose phone keeps its home carrier abroad does not fire on every hop back. A user with fewer than min_history_days active days around a journey is in a learning period, not judged. Private, carrier-grade NAT, Microsoft service and declared corporate addresses carry no location; service accounts from the settings are ignored. */
/* lookback_days: baseline_days */
/* lookahead_days: baseline_days */
/* param: max_speed_kmh DOUBLE = 900 | a journey faster than this is impossible (airliners cruise below it) */
/* param: min_distance_km DOUBLE = 200 | journeys shorter than this beyond both accuracy radii are never travel */
/* param: baseline_days INTEGER = 14 | days of the user's history that make a place familiar */
/* param: min_history_days INTEGER = 3 | active days a user needs in the baseline before places are judged on the past alone */
/* param: tenant_common_users INTEGER = 3 | a network used by at least this many other people in the baseline days before or after is familiar to everyone */
/* param: service_accounts LIST | from the settings: accounts this rule ignores */
/* columns: entity, first_ts, last_ts, summary, evidence_row_ids, window_start, learning */
WITH places AS (
  SELECT
    c_ip,
    network,
    latitude,
    longitude,
    accuracy_radius,
    COALESCE(country_code || '|' || city, FORMAT_STRING('%.1f,%.1f', latitude, longitude)) AS place,
    COALESCE(
      city || ', ' || COALESCE(country_code, country),
      country || FORMAT_STRING(' (%.2f, %.2f)', latitude, longitude),
      FORMAT_STRING('%.2f, %.2f', latitude, longitude)
    ) AS place_name
  FROM ip_locations
  WHERE
    NOT latitude IS NULL AND NOT longitude IS NULL AND label IS NULL
), located AS (
  /* Narrow rows through the windows below; a stay's coordinates are joined after them. */
  SELECT
    r.user_id,
    r.ts,
    r.row_id,
    r.c_ip,
    p.place,
    CAST(r.ts AS DATE) AS day
  FROM requests AS r
  JOIN places AS p
    ON p.c_ip = r.c_ip
  WHERE
    NOT r.user_id IS NULL
    AND NOT r.user_id IN (
      SELECT
        user_id
      FROM (
        /* The patterns are matched once per distinct user, after the grouping. Written on the */
        /* grouped column, the test is pushed below the grouping and runs on every row (most of */
        /* a rule's time over months of requests); on an aggregate's result it cannot be. */
        SELECT
          user_id
        FROM (
          SELECT
            user_id,
            ANY_VALUE(user_id) IGNORE NULLS AS grouped
          FROM requests
          WHERE
            NOT user_id IS NULL
          GROUP BY
            user_id
        )
        WHERE
          (
            COALESCE(EXISTS(:service_accounts, p -> grouped ILIKE p), FALSE)
          )
      ) AS service_users
    )
), marked AS (
  SELECT
    *,
    COALESCE(place <> LAG(place) OVER w, TRUE) AS starts_stay
  FROM located
  WINDOW w AS (PARTITION BY user_id ORDER BY ts NULLS LAST, row_id NULLS LAST)
), numbered AS (
  SELECT
    *,
    SUM(CAST(starts_stay AS INT)) OVER (PARTITION BY user_id ORDER BY ts NULLS LAST, row_id NULLS LAST) AS stay
  FROM marked
), stays AS (
  SELECT
    n.user_id,
    n.stay,
    ANY_VALUE(n.place) IGNORE NULLS AS place,
    ANY_VALUE(p.place_name) IGNORE NULLS AS place_name,
    MIN(n.ts) AS first_ts,
    MAX(n.ts) AS last_ts,
    CAST(MIN(n.ts) AS DATE) AS day,
    MIN_BY(n.row_id, STRUCT(n.ts, n.row_id)) AS first_row,
    MAX_BY(n.row_id, STRUCT(n.ts, n.row_id)) AS last_row,
    MIN_BY(n.c_ip, STRUCT(n.ts, n.row_id)) AS first_ip,
    MAX_BY(n.c_ip, STRUCT(n.ts, n.row_id)) AS last_ip,
    MIN_BY(p.network, STRUCT(n.ts, n.row_id)) AS first_network,
    AVG(p.latitude) AS lat,
    AVG(p.longitude) AS lon,
    MAX(COALESCE(p.accuracy_radius, 0)) AS radius
  FROM numbered AS n
  JOIN places AS p
    ON p.c_ip = n.c_ip
  GROUP BY
    n.user_id,
    n.stay
), place_days AS (
  SELECT DISTINCT
    user_id,
    place,
    day
  FROM located
), user_active AS (
  SELECT DISTINCT
    user_id,
    0 AS used,
    day
  FROM place_days
), user_days AS (
  SELECT
    *
  FROM (
    SELECT
      *,
      COUNT(*) OVER (
        PARTITION BY user_id, used
        ORDER BY day NULLS LAST
        RANGE BETWEEN INTERVAL (:baseline_days) DAY PRECEDING AND INTERVAL 1 DAY PRECEDING
      ) AS prior_days,
      COUNT(*) OVER (
        PARTITION BY user_id, used
        ORDER BY day NULLS LAST
        RANGE BETWEEN INTERVAL (:baseline_days) DAY PRECEDING AND INTERVAL (:baseline_days) DAY FOLLOWING
      ) - 1 AS around_days
    FROM user_active
  ) AS days_of_use
), familiarity AS (
  SELECT
    p.user_id,
    p.place,
    p.day,
    u.around_days >= :min_history_days AS judgeable,
    NOT COALESCE(LAG(p.day) OVER w >= p.day - :baseline_days, FALSE)
    AND (
      u.prior_days >= :min_history_days
      OR NOT COALESCE(LEAD(p.day) OVER w <= p.day + :baseline_days, FALSE)
    ) AS novel
  FROM place_days AS p
  JOIN user_days AS u
    USING (user_id, day)
  WINDOW w AS (PARTITION BY p.user_id, p.place ORDER BY p.day NULLS LAST)
), journeys AS (
  /* Each first arrival of the day at a place new to the user, from the stay before it. */
  SELECT
    s.user_id,
    s.stay,
    s.place_name AS to_name,
    s.first_ts AS arrived,
    s.first_ip,
    s.first_network,
    s.day,
    f.judgeable,
    LAG(s.place_name) OVER w AS from_name,
    LAG(s.last_ts) OVER w AS left_ts,
    LAG(s.last_ip) OVER w AS from_ip,
    LAG(s.last_row) OVER w AS from_row,
    GREATEST(
      0,
      2 * 6371.0 * ASIN(
        SQRT(
          POWER(SIN(RADIANS(s.lat - LAG(s.lat) OVER w) / 2), 2) + COS(RADIANS(s.lat)) * COS(RADIANS(LAG(s.lat) OVER w)) * POWER(SIN(RADIANS(s.lon - LAG(s.lon) OVER w) / 2), 2)
        )
      ) - s.radius - LAG(s.radius) OVER w
    ) AS excess_km,
    f.novel
    AND ROW_NUMBER() OVER (PARTITION BY s.user_id, s.place, s.day ORDER BY s.first_ts NULLS LAST) = 1 AS first_arrival
  FROM stays AS s
  JOIN familiarity AS f
    USING (user_id, place, day)
  WINDOW w AS (PARTITION BY s.user_id ORDER BY s.first_ts NULLS LAST)
), impossible AS (
  SELECT
    *,
    excess_km / GREATEST(
      (
        UNIX_MICROS(CAST(arrived AS TIMESTAMP)) - UNIX_MICROS(CAST(left_ts AS TIMESTAMP))
      ) / CAST(1000000 AS DOUBLE) / 3600.0,
      1e-9
    ) AS speed_kmh
  FROM journeys
  WHERE
    first_arrival
    AND NOT left_ts IS NULL
    AND excess_km > :min_distance_km
    AND excess_km > :max_speed_kmh * (
      UNIX_MICROS(CAST(arrived AS TIMESTAMP)) - UNIX_MICROS(CAST(left_ts AS TIMESTAMP))
    ) / CAST(1000000 AS DOUBLE) / 3600.0
), tenant AS (
  /* How many other people used the arrival's network in the baseline days around it. */
  SELECT
    i.user_id,
    i.stay,
    COUNT(DISTINCT n.user_id) AS others
  FROM impossible AS i
  LEFT JOIN (
    /* Only the networks of impossible journeys (a handful) are counted. */
    SELECT DISTINCT
      l.user_id,
      p.network,
      l.day
    FROM located AS l
    JOIN places AS p
      ON p.c_ip = l.c_ip
    WHERE
      p.network IN (
        SELECT
          first_network
        FROM impossible
      )
  ) AS n
    ON n.network = i.first_network
    AND n.user_id <> i.user_id
    AND n.day BETWEEN i.day - :baseline_days AND i.day + :baseline_days
  GROUP BY ALL
), unfamiliar AS (
  SELECT
    i.*
  FROM impossible AS i
  JOIN tenant AS t
    USING (user_id, stay)
  WHERE
    t.others < :tenant_common_users
), evidence AS (
  /* The requests of each arrival's stay (listed for these few stays only). */
  SELECT
    u.user_id,
    u.stay,
    IF(
      SIZE(
        TRANSFORM(
          ARRAY_SORT(
            COLLECT_LIST(STRUCT(n.ts AS k0, n.row_id AS k1, n.row_id AS v)),
            (l, r) -> CASE
              WHEN l.k0 IS NULL AND r.k0 IS NULL
              THEN CASE
                WHEN l.k1 IS NULL AND r.k1 IS NULL
                THEN 0
                WHEN l.k1 IS NULL
                THEN 1
                WHEN r.k1 IS NULL
                THEN -1
                WHEN l.k1 < r.k1
                THEN -1
                WHEN l.k1 > r.k1
                THEN 1
                ELSE 0
              END
              WHEN l.k0 IS NULL
              THEN 1
              WHEN r.k0 IS NULL
              THEN -1
              WHEN l.k0 < r.k0
              THEN -1
              WHEN l.k0 > r.k0
              THEN 1
              ELSE CASE
                WHEN l.k1 IS NULL AND r.k1 IS NULL
                THEN 0
                WHEN l.k1 IS NULL
                THEN 1
                WHEN r.k1 IS NULL
                THEN -1
                WHEN l.k1 < r.k1
                THEN -1
                WHEN l.k1 > r.k1
                THEN 1
                ELSE 0
              END
            END
          ),
          s -> s.v
        )
      ) = 0,
      NULL,
      TRANSFORM(
        ARRAY_SORT(
          COLLECT_LIST(STRUCT(n.ts AS k0, n.row_id AS k1, n.row_id AS v)),
          (l, r) -> CASE
            WHEN l.k0 IS NULL AND r.k0 IS NULL
            THEN CASE
              WHEN l.k1 IS NULL AND r.k1 IS NULL
              THEN 0
              WHEN l.k1 IS NULL
              THEN 1
              WHEN r.k1 IS NULL
              THEN -1
              WHEN l.k1 < r.k1
              THEN -1
              WHEN l.k1 > r.k1
              THEN 1
              ELSE 0
            END
            WHEN l.k0 IS NULL
            THEN 1
            WHEN r.k0 IS NULL
            THEN -1
            WHEN l.k0 < r.k0
            THEN -1
            WHEN l.k0 > r.k0
            THEN 1
            ELSE CASE
              WHEN l.k1 IS NULL AND r.k1 IS NULL
              THEN 0
              WHEN l.k1 IS NULL
              THEN 1
              WHEN r.k1 IS NULL
              THEN -1
              WHEN l.k1 < r.k1
              THEN -1
              WHEN l.k1 > r.k1
              THEN 1
              ELSE 0
            END
          END
        ),
        s -> s.v
      )
    ) AS row_ids
  FROM unfamiliar AS u
  JOIN numbered AS n
    ON n.user_id = u.user_id AND n.stay = u.stay
  GROUP BY
    u.user_id,
    u.stay
)
SELECT
  user_id AS entity,
  left_ts AS first_ts,
  arrived AS last_ts,
  IF(
    CAST(user_id AS STRING) IS NULL
    OR CAST(from_name AS STRING) IS NULL
    OR CAST(from_ip AS STRING) IS NULL
    OR CAST(DATE_FORMAT(left_ts, 'yyyy-MM-dd HH:mm') AS STRING) IS NULL
    OR CAST(to_name AS STRING) IS NULL
    OR CAST(first_ip AS STRING) IS NULL
    OR CAST(CAST(ROUND(
      (
        UNIX_MICROS(CAST(arrived AS TIMESTAMP)) - UNIX_MICROS(CAST(left_ts AS TIMESTAMP))
      ) / CAST(1000000 AS DOUBLE) / 60
    ) AS BIGINT) AS STRING) IS NULL
    OR CAST(CAST(ROUND(excess_km) AS BIGINT) AS STRING) IS NULL
    OR CAST(CASE
      WHEN arrived > left_ts
      THEN CAST(CAST(ROUND(speed_kmh) AS BIGINT) AS STRING)
      ELSE 'at once'
    END AS STRING) IS NULL,
    NULL,
    FORMAT_STRING(
      '%s was in %s (%s) at %s UTC and in %s (%s) %s minutes later: %s km apart beyond both locations\' accuracy, %s km/h',
      CAST(user_id AS STRING),
      CAST(from_name AS STRING),
      CAST(from_ip AS STRING),
      CAST(DATE_FORMAT(left_ts, 'yyyy-MM-dd HH:mm') AS STRING),
      CAST(to_name AS STRING),
      CAST(first_ip AS STRING),
      CAST(CAST(ROUND(
        (
          UNIX_MICROS(CAST(arrived AS TIMESTAMP)) - UNIX_MICROS(CAST(left_ts AS TIMESTAMP))
        ) / CAST(1000000 AS DOUBLE) / 60
      ) AS BIGINT) AS STRING),
      CAST(CAST(ROUND(excess_km) AS BIGINT) AS STRING),
      CAST(CASE
        WHEN arrived > left_ts
        THEN CAST(CAST(ROUND(speed_kmh) AS BIGINT) AS STRING)
        ELSE 'at once'
      END AS STRING)
    )
  ) AS summary,
  CONCAT(ARRAY(from_row), row_ids) AS evidence_row_ids,
  left_ts AS window_start,
  NOT judgeable AS learning
FROM unfamiliar
JOIN evidence
  USING (user_id, stay)
