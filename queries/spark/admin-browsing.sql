-- Generated from queries/detections/admin-browsing.sql by pipeline/spark/generate.py (sqlglot 30.30.0); do not edit.
/* id: admin-browsing */
/* title: Administrator browsing other users' documents in admin mode */
/* severity: high */
/* description: Document-tracking requests made in admin mode (admin-action True) about other people: acting as another user, or across the whole tenant. One administrator's such requests are grouped into sessions (a gap of more than gap_minutes starts a new one). A session is a finding when it looks at at least min_targets other users (or, without acting-as-user, documents) and more than baseline_factor times as many as on the administrator's usual day: the baseline_quantile of their daily count over the baseline_days before (quiet days count as zero). A helpdesk admin who acts for a user or two a day, or an admin who lists the whole tenant's documents, does not fire. Days before the user's first request in the warehouse are not history: with fewer than min_history_days such days before (the first days of a collection, or a new colleague), the days around (before and after) stand in, so such a finding may change as more days arrive; with fewer than min_history_days around either, the user is in a learning period and is not judged. Needs the 1.1 log with admin fields; service accounts from the settings are ignored. */
/* lookback_days: baseline_days */
/* lookahead_days: baseline_days */
/* param: min_targets INTEGER = 5 | fewest distinct other users or documents looked at in a session */
/* param: gap_minutes INTEGER = 15 | a gap longer than this between requests ends a session (browsing goes from one user to the next within minutes; helpdesk cases are spread over the day) */
/* param: baseline_days INTEGER = 14 | days of the administrator's own history to compare with */
/* param: baseline_quantile DOUBLE = 0.8 | which of those days is the administrator's usual busy day */
/* param: baseline_factor DOUBLE = 2.0 | a session must exceed this many times the usual busy day */
/* param: min_history_days INTEGER = 3 | days of the user's history needed to judge on the past alone */
/* param: service_accounts LIST | from the settings: accounts this rule ignores */
/* columns: entity, first_ts, last_ts, summary, evidence_row_ids, window_start, learning */
WITH admin_mode AS (
  SELECT
    user_id,
    ts,
    row_id,
    request_type,
    acting_as_user,
    COALESCE(LOWER(acting_as_user), content_id) AS target
  FROM requests
  WHERE
    admin_action
    AND NOT user_id IS NULL
    AND NOT user_id IN (
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
    AND LOWER(user_id) IS DISTINCT FROM LOWER(acting_as_user)
), daily AS (
  SELECT
    user_id,
    CAST(ts AS DATE) AS day,
    COUNT(DISTINCT target) AS value
  FROM admin_mode
  GROUP BY ALL
), sessions AS (
  SELECT
    user_id,
    session,
    MIN(ts) AS first_ts,
    MAX(ts) AS last_ts,
    CAST(MIN(ts) AS DATE) AS first_day,
    COUNT(*) AS requests,
    COUNT(DISTINCT target) AS targets,
    COUNT(DISTINCT acting_as_user) AS users_acted_for,
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
    ) AS evidence_row_ids
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
      FROM admin_mode
    )
  ) AS sessions_of
  GROUP BY
    user_id,
    session
  HAVING
    COUNT(DISTINCT target) >= :min_targets
), span AS (
  SELECT
    *
  FROM (
    SELECT
      user_id,
      CAST(CAST(FROM_UTC_TIMESTAMP(CAST(MIN(ts) AS TIMESTAMP), 'UTC') AS TIMESTAMP_NTZ) AS DATE) AS first_day,
      (
        SELECT
          CAST(CAST(FROM_UTC_TIMESTAMP(CAST(MAX(ts) AS TIMESTAMP), 'UTC') AS TIMESTAMP_NTZ) AS DATE)
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
)
SELECT
  user_id AS entity,
  first_ts,
  last_ts,
  IF(
    CAST(user_id AS STRING) IS NULL
    OR CAST(requests AS STRING) IS NULL
    OR CAST(targets AS STRING) IS NULL
    OR CAST(users_acted_for AS STRING) IS NULL
    OR CAST(ROUND(usual, 1) AS STRING) IS NULL,
    NULL,
    FORMAT_STRING(
      '%s made %s admin-mode requests about %s other users or documents (acting as %s users); usual day: %s',
      CAST(user_id AS STRING),
      CAST(requests AS STRING),
      CAST(targets AS STRING),
      CAST(users_acted_for AS STRING),
      CAST(ROUND(usual, 1) AS STRING)
    )
  ) AS summary,
  evidence_row_ids,
  first_ts AS window_start,
  learning
FROM judged
WHERE
  learning OR targets > :baseline_factor * usual
