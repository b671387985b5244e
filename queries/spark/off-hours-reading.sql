-- Generated from queries/detections/off-hours-reading.sql by pipeline/spark/generate.py (sqlglot 30.30.0); do not edit.
/* id: off-hours-reading */
/* title: Surge of protected documents read outside working hours */
/* severity: medium */
/* description: Successful use-licence requests (a user opening protected content) outside the tenant's working hours, in its own time zone (settings), from the user's own networks: a network block (ip_locations.block) they used on at least usual_days of the baseline_days before (in the first days of a collection, of the days around), or an address without one (private, on-premises). Reads from a hotel or a roaming carrier do not count: a person on a trip keeps the local hours there, which the tenant's clock calls night. One user's off-hours reads are grouped into sessions (a gap of more than gap_minutes starts a new one). A session is a finding when it holds at least min_reads reads and more than baseline_factor times the user's usual off-hours day: the baseline_quantile of their daily off-hours reads over the baseline_days before (quiet days count as zero), so a user who habitually works late or on a night shift is compared with their own habit, and one earlier surge does not raise the bar. Days before the user's first request in the warehouse are not history: with fewer than min_history_days such days before a session (the first days of a collection, or a new colleague), the days around it (before and after) stand in, so such a finding may change as more days arrive; with fewer than min_history_days around either, the user is in a learning period and the session is not judged. Service accounts from the settings are ignored. */
/* lookback_days: baseline_days */
/* lookahead_days: baseline_days */
/* param: min_reads INTEGER = 20 | fewest off-hours reads in a session that make a finding (a late or night worker's ordinary session rarely holds more) */
/* param: gap_minutes INTEGER = 60 | a gap longer than this between reads ends a session */
/* param: baseline_days INTEGER = 14 | days of the user's own history to compare with */
/* param: baseline_quantile DOUBLE = 0.8 | which of those days is the user's usual busy day (0.8: the busiest days, which may be incidents, are left out) */
/* param: baseline_factor DOUBLE = 3.0 | a session must exceed this many times the usual busy day */
/* param: min_history_days INTEGER = 3 | days of the user's history needed to judge a session on its past alone */
/* param: usual_days INTEGER = 2 | reads count only from network blocks the user used on at least this many days of the baseline (not a hotel or roaming carrier on a trip) */
/* param: timezone VARCHAR | from the settings: the tenant's time zone */
/* param: work_days LIST | from the settings: ISO weekdays that are working days */
/* param: work_start INTEGER | from the settings: first working hour, local */
/* param: work_end INTEGER | from the settings: end of the working day, local */
/* param: service_accounts LIST | from the settings: accounts this rule ignores */
/* param: judge_from TIMESTAMP | from the detect run: the first instant whose reads are judged (the baselines read all they are given) */
/* param: judge_to TIMESTAMP | from the detect run: the first instant after them */
/* columns: entity, first_ts, last_ts, summary, evidence_row_ids, window_start, learning */
WITH reads AS (
  SELECT
    r.user_id,
    r.ts,
    r.row_id,
    r.content_id,
    l.block,
    CAST(r.ts AS DATE) AS day,
    CAST(FROM_UTC_TIMESTAMP(CAST(r.ts AS TIMESTAMP), :timezone) AS TIMESTAMP_NTZ) AS local_ts
  FROM requests AS r
  LEFT JOIN ip_locations AS l
    ON l.c_ip = r.c_ip
  WHERE
    r.request_type IN (
      SELECT
        name
      FROM request_types
      WHERE
        opens_document
    )
    AND r.result = 'Success'
    AND NOT r.user_id IS NULL
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
), off_hours_all AS (
  SELECT
    *
  FROM reads
  WHERE
    NOT (
      ARRAY_CONTAINS(:work_days, WEEKDAY(local_ts) + 1)
      AND HOUR(local_ts) >= :work_start
      AND HOUR(local_ts) < :work_end
    )
), block_days AS (
  /* The days each reader used each network block (any request), to tell their own */
  /* networks from a hotel's or a roaming carrier's on a trip. */
  SELECT DISTINCT
    r.user_id,
    l.block AS used,
    CAST(r.ts AS DATE) AS day
  FROM requests AS r
  JOIN ip_locations AS l
    ON l.c_ip = r.c_ip AND NOT l.block IS NULL
  WHERE
    r.user_id IN (
      SELECT DISTINCT
        user_id
      FROM off_hours_all
    )
), block_use AS (
  SELECT
    user_id,
    used AS block,
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
    FROM block_days
  ) AS days_of_use
), reader_active AS (
  SELECT DISTINCT
    user_id,
    0 AS used,
    day
  FROM block_days
), reader_days AS (
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
    FROM reader_active
  ) AS days_of_use
), off_hours AS (
  /* Off-hours on the tenant's clock counts only from the reader's own networks (used on */
  /* usual_days of the baseline before; in the first days, of the days around) or from */
  /* addresses without a network (private, on-premises): someone reading from a hotel or a */
  /* roaming carrier is on a trip and keeps the local hours there. (A reader in a learning */
  /* period keeps every read: not judged, but reported.) */
  SELECT
    o.*
  FROM off_hours_all AS o
  LEFT JOIN block_use AS b
    USING (user_id, block, day)
  LEFT JOIN reader_days AS d
    USING (user_id, day)
  WHERE
    o.block IS NULL
    OR d.around_days < :min_history_days
    OR CASE WHEN d.prior_days >= :min_history_days THEN b.prior_use ELSE b.around_use END >= :usual_days
), daily AS (
  SELECT
    user_id,
    CAST(local_ts AS DATE) AS day,
    COUNT(*) AS value
  FROM off_hours
  GROUP BY ALL
), judged_reads AS (
  /* Sessions of the reads being judged only: the usual day comes from all days read. */
  SELECT
    user_id,
    ts,
    row_id,
    content_id,
    local_ts
  FROM off_hours
  WHERE
    ts >= CAST(:judge_from AS TIMESTAMP_NTZ)
    AND ts < CAST(:judge_to AS TIMESTAMP_NTZ)
), session_reads AS (
  SELECT
    *
  FROM (
    SELECT
      *,
      SUM(CAST(starts_session AS INT)) OVER (PARTITION BY user_id ORDER BY ts NULLS LAST, row_id NULLS LAST) AS session
    FROM (
      SELECT
        *,
        COALESCE(
          ts - LAG(ts) OVER (PARTITION BY user_id ORDER BY ts NULLS LAST, row_id NULLS LAST) > INTERVAL (:gap_minutes) MINUTE,
          TRUE
        ) AS starts_session
      FROM judged_reads
    )
  ) AS sessions_of
), sessions AS (
  SELECT
    user_id,
    session,
    MIN(ts) AS first_ts,
    MAX(ts) AS last_ts,
    MIN(local_ts) AS first_local,
    CAST(MIN(local_ts) AS DATE) AS first_day,
    COUNT(*) AS reads,
    COUNT(DISTINCT content_id) AS documents
  FROM session_reads
  GROUP BY
    user_id,
    session
  HAVING
    COUNT(*) >= :min_reads
), span AS (
  SELECT
    *
  FROM (
    SELECT
      user_id,
      CAST(CAST(FROM_UTC_TIMESTAMP(CAST(MIN(ts) AS TIMESTAMP), :timezone) AS TIMESTAMP_NTZ) AS DATE) AS first_day,
      (
        SELECT
          CAST(CAST(FROM_UTC_TIMESTAMP(CAST(MAX(ts) AS TIMESTAMP), :timezone) AS TIMESTAMP_NTZ) AS DATE)
        FROM requests
      ) AS last_day
    FROM requests
    WHERE
      user_id IN (
        SELECT
          user_id
        FROM sessions
      )
    GROUP BY
      user_id
  ) AS history_span
), baseline AS (
  SELECT
    s.user_id,
    s.session,
    PERCENTILE(CASE WHEN back.n > 0 THEN COALESCE(d.value, 0) END, :baseline_quantile) AS prior,
    COUNT(*) FILTER(WHERE
      back.n > 0) AS prior_days,
    PERCENTILE(COALESCE(d.value, 0), :baseline_quantile) AS around,
    COUNT(*) AS around_days
  FROM sessions AS s
  JOIN span AS p
    USING (user_id)
  CROSS JOIN (
    SELECT
      EXPLODE(SEQUENCE(-:baseline_days, :baseline_days + 1 - 1)) AS n
  ) AS back
  LEFT JOIN daily AS d
    ON d.user_id = s.user_id AND d.day = s.first_day - CAST(back.n AS INT)
  WHERE
    back.n <> 0
    AND s.first_day - CAST(back.n AS INT) BETWEEN p.first_day AND p.last_day
  GROUP BY
    s.user_id,
    s.session
), judged AS (
  SELECT
    *
  FROM (
    SELECT
      s.*,
      CASE WHEN b.prior_days >= :min_history_days THEN b.prior ELSE b.around END AS usual,
      COALESCE(b.around_days, 0) < :min_history_days AS learning
    FROM sessions AS s
    LEFT JOIN baseline AS b
      USING (user_id, session)
  ) AS judged_by_baseline
), found AS (
  SELECT
    *
  FROM judged
  WHERE
    learning OR reads > :baseline_factor * usual
)
SELECT
  f.user_id AS entity,
  f.first_ts,
  f.last_ts,
  IF(
    CAST(f.user_id AS STRING) IS NULL
    OR CAST(f.documents AS STRING) IS NULL
    OR CAST(f.reads AS STRING) IS NULL
    OR CAST(DATE_FORMAT(f.first_local, 'EEE yyyy-MM-dd HH:mm') AS STRING) IS NULL
    OR CAST(ROUND(f.usual, 1) AS STRING) IS NULL,
    NULL,
    FORMAT_STRING(
      '%s opened %s protected documents (%s reads) outside working hours from %s local time; usual busy off-hours day: %s reads',
      CAST(f.user_id AS STRING),
      CAST(f.documents AS STRING),
      CAST(f.reads AS STRING),
      CAST(DATE_FORMAT(f.first_local, 'EEE yyyy-MM-dd HH:mm') AS STRING),
      CAST(ROUND(f.usual, 1) AS STRING)
    )
  ) AS summary,
  IF(
    SIZE(
      TRANSFORM(
        ARRAY_SORT(
          COLLECT_LIST(STRUCT(r.ts AS k0, r.row_id AS k1, r.row_id AS v)),
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
        COLLECT_LIST(STRUCT(r.ts AS k0, r.row_id AS k1, r.row_id AS v)),
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
  ) AS evidence_row_ids, /* The session's reads, listed for the sessions found only. */
  f.first_ts AS window_start,
  f.learning
FROM found AS f
JOIN session_reads AS r
  USING (user_id, session)
GROUP BY
  f.user_id,
  f.session,
  f.first_ts,
  f.last_ts,
  f.documents,
  f.reads,
  f.first_local,
  f.usual,
  f.learning
