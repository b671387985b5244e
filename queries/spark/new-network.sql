-- Generated from queries/detections/new-network.sql by pipeline/spark/generate.py (sqlglot 30.30.0); do not edit.
/* id: new-network */
/* title: One account on a network new to it and to the tenant, minutes after another network */
/* severity: medium */
/* description: Consecutive requests of one user from two different networks less than window_minutes apart, where one network is usual for the user (used on at least usual_days of the baseline_days before, or corporate egress: used that day by at least egress_share of the people active) and the other is new (the user did not use it in the baseline_days before, and fewer than tenant_common_users other people used it in the baseline_days before or after). A person's usual networks (office, home, phone) and the tenant's shared ones (a mobile carrier's many address pools, the corporate VPN's exits, a home ISP) therefore do not fire, nor does a trip (hotel and roaming networks are new, but the usual ones are far behind by then); a session used from an unrelated network while the user works as usual does. A network here is a provider's block (the /12 of an IPv4 address, the /32 of an IPv6 one; ip_locations.block), not the /16: a mobile carrier hands out addresses from many /16 pools and a home ISP re-leases across its /16s, but both stay inside their allocation, so moving between them is not new. This rule knows no geography (it works without a location database; see impossible-travel for distance and speed). A user with fewer than min_history_days active days in the baseline (the first days of a collection) is judged on the days after too: a network that does not recur for them in the next baseline_days is new; with fewer than min_history_days active days around either, the user is in a learning period and not judged. Private, carrier-grade NAT, Microsoft service and declared corporate addresses (see ip_locations) are ignored, and so are service accounts from the settings. */
/* scenario: impossible-travel */
/* lookback_days: baseline_days */
/* lookahead_days: baseline_days */
/* param: window_minutes INTEGER = 60 | the most minutes between requests from the two networks */
/* param: baseline_days INTEGER = 14 | days of history that make a network known (to the user or the tenant) */
/* param: min_history_days INTEGER = 3 | active days a user needs in the baseline before networks are judged on the past alone */
/* param: usual_days INTEGER = 2 | days of use in the baseline that make a network usual for the user (a hotel on the first day of a trip is not) */
/* param: egress_share DOUBLE = 0.05 | a network used on a day by at least this share of the people active that day is corporate egress (a VPN exit), usual for everyone */
/* param: tenant_common_users INTEGER = 3 | a network used by at least this many other people in the baseline days before or after is the tenant's, new to nobody */
/* param: service_accounts LIST | from the settings: accounts this rule ignores */
/* param: judge_from TIMESTAMP | from the detect run: the first instant whose requests are judged (the baselines read all they are given) */
/* param: judge_to TIMESTAMP | from the detect run: the first instant after them */
/* columns: entity, first_ts, last_ts, summary, evidence_row_ids, window_start, learning */
WITH net_days AS (
  /* The days each person (not a service account) used each network. (Here, the window */
  /* below and the evidence each read `requests` with the columns they need: a CTE of */
  /* the requests shared by the three, DuckDB materialised whole, and spilled.) */
  SELECT DISTINCT
    r.user_id,
    l.block AS network,
    CAST(r.ts AS DATE) AS day
  FROM requests AS r
  JOIN ip_locations AS l
    ON l.c_ip = r.c_ip AND NOT l.block IS NULL
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
), nets AS (
  /* A number for each network and each person, so that few bytes a request go through */
  /* the window below. */
  SELECT
    network,
    ROW_NUMBER() OVER (ORDER BY network NULLS LAST) AS net
  FROM (
    SELECT DISTINCT
      network
    FROM net_days
  )
), people AS (
  SELECT
    user_id,
    ROW_NUMBER() OVER (ORDER BY user_id NULLS LAST) AS person
  FROM (
    SELECT DISTINCT
      user_id
    FROM net_days
  )
), user_active AS (
  SELECT DISTINCT
    user_id,
    0 AS used,
    day
  FROM net_days
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
), net_used AS (
  SELECT
    user_id,
    network AS used,
    day
  FROM net_days
), network_use AS (
  SELECT
    user_id,
    used AS network,
    day,
    prior_days AS prior_use,
    around_days AS around_use
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
    FROM net_used
  ) AS days_of_use
), reach AS (
  /* Each person's use of a network covers the baseline_days before and after each day */
  /* of use; days of use closer than twice that (+1) make one unbroken stretch. */
  SELECT
    network,
    user_id,
    day,
    COALESCE(LAG(day) OVER w < day - (
      2 * :baseline_days + 1
    ), TRUE) AS starts
  FROM net_days
  WINDOW w AS (PARTITION BY network, user_id ORDER BY day NULLS LAST)
), stretches AS (
  SELECT
    network,
    user_id,
    MIN(day) - :baseline_days AS first_day,
    MAX(day) + :baseline_days AS last_day
  FROM (
    SELECT
      *,
      SUM(CAST(starts AS INT)) OVER (PARTITION BY network, user_id ORDER BY day NULLS LAST) AS stretch
    FROM reach
  )
  GROUP BY
    network,
    user_id,
    stretch
), covered AS (
  /* People whose stretches cover each day a network was used: a running sum of +1 where */
  /* a stretch starts and -1 after it ends (a count of distinct people in the days around */
  /* without a distinct count over a sliding window, which grows with the network). */
  SELECT
    network,
    day,
    CAST(SUM(delta) OVER (
      PARTITION BY network
      ORDER BY day NULLS LAST, point NULLS LAST
      ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
    ) AS BIGINT) AS users,
    point
  FROM (
    SELECT
      network,
      first_day AS day,
      1 AS delta,
      FALSE AS point
    FROM stretches
    UNION ALL
    SELECT
      network,
      last_day + 1,
      -1,
      FALSE
    FROM stretches
    UNION ALL
    SELECT DISTINCT
      network,
      day,
      0,
      TRUE
    FROM net_days
  )
), common AS (
  /* How many other people used each network in the baseline_days around each day. */
  SELECT
    n.user_id,
    n.network,
    n.day,
    c.users - 1 AS others
  FROM net_days AS n
  JOIN covered AS c
    ON c.network = n.network AND c.day = n.day AND c.point
), egress AS (
  /* Corporate egress (a VPN exit, a proxy): a network that a large share of the people */
  /* active that day use is usual for everyone, even on a person's first day on the VPN. */
  SELECT
    network,
    day,
    COUNT(*) AS users,
    ANY_VALUE(active) IGNORE NULLS AS active
  FROM net_days
  JOIN (
    SELECT
      day,
      COUNT(DISTINCT user_id) AS active
    FROM net_days
    GROUP BY
      day
  )
    USING (day)
  GROUP BY
    network,
    day
), personal AS (
  /* New: not used by the user in the baseline_days before (in the first days of a */
  /* collection, too little history before, not in the baseline_days after either), and */
  /* not the tenant's (a network many colleagues use is new to nobody). Usual: used by */
  /* the user on at least usual_days of those days, or corporate egress (a network a few */
  /* colleagues use is new to nobody, but not usual for everyone: a hotel colleagues */
  /* stayed at is no sign the traveller is home). */
  SELECT
    n.user_id,
    n.network,
    n.day,
    u.around_days >= :min_history_days AS judgeable,
    NOT COALESCE(LAG(n.day) OVER w >= n.day - :baseline_days, FALSE)
    AND (
      u.prior_days >= :min_history_days
      OR NOT COALESCE(LEAD(n.day) OVER w <= n.day + :baseline_days, FALSE)
    )
    AND c.others < :tenant_common_users AS novel,
    CASE WHEN u.prior_days >= :min_history_days THEN b.prior_use ELSE b.around_use END >= :usual_days
    OR e.users >= :egress_share * e.active AS usual
  FROM net_days AS n
  JOIN user_days AS u
    USING (user_id, day)
  JOIN network_use AS b
    USING (user_id, network, day)
  JOIN common AS c
    USING (user_id, network, day)
  JOIN egress AS e
    USING (network, day)
  WINDOW w AS (PARTITION BY n.user_id, n.network ORDER BY n.day NULLS LAST)
), seq AS (
  /* Each request being judged beside the same person's previous one (the networks' */
  /* verdicts come from all days read). Few bytes a request go through the window */
  /* (numbers for the person and the network, not the previous request's row id: it is */
  /* looked up for the few hops found); verdicts are joined to the network changes only. */
  SELECT
    person,
    ts,
    row_id,
    net,
    LAG(ts) OVER w AS prev_ts,
    LAG(net) OVER w AS prev_net
  FROM (
    SELECT
      p.person,
      r.ts,
      r.row_id,
      n.net
    FROM requests AS r
    JOIN ip_locations AS l
      ON l.c_ip = r.c_ip
    JOIN nets AS n
      ON n.network = l.block
    JOIN people AS p
      ON p.user_id = r.user_id
    WHERE
      r.ts >= CAST(:judge_from AS TIMESTAMP_NTZ)
      AND r.ts < CAST(:judge_to AS TIMESTAMP_NTZ)
  )
  WINDOW w AS (PARTITION BY person ORDER BY ts NULLS LAST, row_id NULLS LAST)
), steps AS (
  /* Network changes within minutes, with names again. (Steps of their own, before the */
  /* verdicts: joined in one step, DuckDB paired verdicts before it looked at the changes.) */
  SELECT
    p.user_id,
    s.ts,
    s.row_id,
    n.network,
    CAST(s.ts AS DATE) AS day,
    s.prev_ts,
    m.network AS prev_network,
    CAST(s.prev_ts AS DATE) AS prev_day
  FROM seq AS s
  JOIN people AS p
    ON p.person = s.person
  JOIN nets AS n
    ON n.net = s.net
  JOIN nets AS m
    ON m.net = s.prev_net
  WHERE
    s.net <> s.prev_net AND s.ts - s.prev_ts <= INTERVAL (:window_minutes) MINUTE
), changes AS (
  /* Each network change with the verdict on the network changed to. */
  SELECT
    s.*,
    p.judgeable,
    p.novel,
    p.usual
  FROM steps AS s
  JOIN personal AS p
    ON p.user_id = s.user_id AND p.network = s.network AND p.day = s.day
), hops AS (
  /* The changes between a known network and a new one (for a user in a learning period, */
  /* who knows no network yet: any change to a new one, not judged). */
  SELECT
    c.user_id,
    c.ts,
    c.row_id,
    c.network,
    c.day,
    c.prev_ts,
    c.prev_network,
    c.prev_day,
    c.judgeable,
    CASE WHEN c.novel THEN c.network ELSE c.prev_network END AS new_network
  FROM changes AS c
  JOIN personal AS q
    ON q.user_id = c.user_id AND q.network = c.prev_network AND q.day = c.prev_day
  WHERE
    CASE
      WHEN c.judgeable
      THEN (
        c.novel AND q.usual
      ) OR (
        q.novel AND c.usual
      )
      ELSE c.novel OR q.novel
    END
), learners AS (
  SELECT
    user_id,
    MIN(prev_ts) AS first_ts,
    MAX(ts) AS last_ts
  FROM hops
  WHERE
    NOT judgeable
  GROUP BY
    user_id
), judged AS (
  /* The previous request's row id: the last one of the person at prev_ts (from a */
  /* network) before this one in the order of the window (ts, then row id). */
  SELECT
    h.*,
    MAX(r.row_id) AS prev_row_id
  FROM hops AS h
  JOIN requests AS r
    ON r.user_id = h.user_id AND r.ts = h.prev_ts
  JOIN ip_locations AS l
    ON l.c_ip = r.c_ip AND NOT l.block IS NULL
  WHERE
    h.judgeable AND (
      r.ts < h.ts OR r.row_id < h.row_id
    )
  GROUP BY ALL
), hop_rows AS (
  SELECT
    user_id,
    ts,
    row_id
  FROM judged
  UNION
  SELECT
    user_id,
    prev_ts,
    prev_row_id
  FROM judged
), episodes AS (
  SELECT
    user_id,
    session AS episode,
    MIN(ts) AS first_ts,
    MAX(ts) AS last_ts
  FROM (
    SELECT
      *,
      SUM(CAST(starts_session AS INT)) OVER (PARTITION BY user_id ORDER BY ts NULLS LAST, row_id NULLS LAST) AS session
    FROM (
      SELECT
        *,
        COALESCE(
          ts - LAG(ts) OVER (PARTITION BY user_id ORDER BY ts NULLS LAST, row_id NULLS LAST) > INTERVAL (:window_minutes) MINUTE,
          TRUE
        ) AS starts_session
      FROM hop_rows
    )
  ) AS sessions_of
  GROUP BY
    user_id,
    session
), evidence AS (
  /* The hops themselves, and every request from the new networks during the episode. */
  SELECT
    e.user_id,
    e.episode,
    e.first_ts,
    e.last_ts,
    s.ts,
    s.row_id,
    s.c_ip,
    s.network,
    s.network IN (
      SELECT
        new_network
      FROM judged AS j
      WHERE
        j.user_id = e.user_id
    ) AS is_new
  FROM episodes AS e
  JOIN (
    SELECT
      r.user_id,
      r.ts,
      r.row_id,
      r.c_ip,
      l.block AS network
    FROM requests AS r
    JOIN ip_locations AS l
      ON l.c_ip = r.c_ip AND NOT l.block IS NULL
  ) AS s
    ON s.user_id = e.user_id AND s.ts BETWEEN e.first_ts AND e.last_ts
  WHERE
    s.row_id IN (
      SELECT
        row_id
      FROM hop_rows
    )
    OR s.network IN (
      SELECT
        new_network
      FROM judged AS j
      WHERE
        j.user_id = e.user_id
    )
)
SELECT
  user_id AS entity,
  first_ts,
  last_ts,
  IF(
    CAST(user_id AS STRING) IS NULL
    OR CAST(COUNT(DISTINCT network) AS STRING) IS NULL
    OR CAST(CAST(CEIL(
      (
        UNIX_MICROS(CAST(last_ts AS TIMESTAMP)) - UNIX_MICROS(CAST(first_ts AS TIMESTAMP))
      ) / CAST(1000000 AS DOUBLE) / 60
    ) AS BIGINT) AS STRING) IS NULL
    OR CAST(IF(
      SIZE(ARRAY_SORT(COLLECT_SET(c_ip))) = 0,
      NULL,
      ARRAY_JOIN(ARRAY_SORT(COLLECT_SET(c_ip)), ', ')
    ) AS STRING) IS NULL
    OR CAST(IF(
      SIZE(ARRAY_SORT(COLLECT_SET(CASE WHEN is_new THEN network END))) = 0,
      NULL,
      ARRAY_JOIN(ARRAY_SORT(COLLECT_SET(CASE WHEN is_new THEN network END)), ', ')
    ) AS STRING) IS NULL,
    NULL,
    FORMAT_STRING(
      '%s used %s network(s) within %s minutes (%s); new to this user and to the tenant: %s',
      CAST(user_id AS STRING),
      CAST(COUNT(DISTINCT network) AS STRING),
      CAST(CAST(CEIL(
        (
          UNIX_MICROS(CAST(last_ts AS TIMESTAMP)) - UNIX_MICROS(CAST(first_ts AS TIMESTAMP))
        ) / CAST(1000000 AS DOUBLE) / 60
      ) AS BIGINT) AS STRING),
      CAST(IF(
        SIZE(ARRAY_SORT(COLLECT_SET(c_ip))) = 0,
        NULL,
        ARRAY_JOIN(ARRAY_SORT(COLLECT_SET(c_ip)), ', ')
      ) AS STRING),
      CAST(IF(
        SIZE(ARRAY_SORT(COLLECT_SET(CASE WHEN is_new THEN network END))) = 0,
        NULL,
        ARRAY_JOIN(ARRAY_SORT(COLLECT_SET(CASE WHEN is_new THEN network END)), ', ')
      ) AS STRING)
    )
  ) AS summary,
  IF(
    SIZE(
      TRANSFORM(
        ARRAY_SORT(
          COLLECT_LIST(STRUCT(ts AS k0, row_id AS k1, row_id AS v)),
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
        COLLECT_LIST(STRUCT(ts AS k0, row_id AS k1, row_id AS v)),
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
  ) AS evidence_row_ids,
  first_ts AS window_start,
  FALSE AS learning
FROM evidence
GROUP BY
  user_id,
  episode,
  first_ts,
  last_ts
UNION ALL
SELECT
  user_id,
  first_ts,
  last_ts,
  NULL,
  CAST(ARRAY() AS ARRAY<STRING>),
  first_ts,
  TRUE
FROM learners
