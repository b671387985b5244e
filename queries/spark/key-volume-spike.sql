-- Generated from queries/detections/key-volume-spike.sql by pipeline/spark/generate.py (sqlglot 30.30.0); do not edit.
/* id: key-volume-spike */
/* title: Spike in tenant-key calls */
/* severity: medium */
/* description: Tenant-key calls per UTC hour compared with the tenant's own usual busiest hour: the baseline_quantile (0.8: a busy but ordinary day) of each day's busiest hour over the baseline_days before (local days with key calls, time zone from the settings). An hour is a spike when it has at least min_calls calls and more than baseline_factor times that usual peak. The quantile leaves out an earlier spike or two, the tenant's quiet nights and weekends do not lower the bar for a busy but normal night, and a tenant moving to its own key over weeks ramps up too slowly to fire. In the first days of a collection, with fewer than min_history_days earlier days of key calls, the days around the hour (before and after) stand in, so such a finding may change as more days arrive; with fewer than min_history_days days of key calls around either, the tenant is in a learning period and its hours are not judged. Consecutive spike hours form one finding. */
/* lookback_days: baseline_days */
/* lookahead_days: baseline_days */
/* param: min_calls INTEGER = 50 | fewest key calls in an hour that can be a spike */
/* param: baseline_days INTEGER = 14 | days of the tenant's history to compare with */
/* param: baseline_quantile DOUBLE = 0.8 | which day's busiest hour is the usual one (quiet days and earlier spikes fall outside 0.8) */
/* param: baseline_factor DOUBLE = 3.0 | a spike exceeds this many times the usual busiest hour */
/* param: min_history_days INTEGER = 3 | earlier days with key calls needed to judge an hour on its past alone */
/* param: timezone VARCHAR | from the settings: the tenant's time zone (where its days begin) */
/* param: judge_from TIMESTAMP | from the detect run: the first instant whose hours are judged (the baselines read all they are given) */
/* param: judge_to TIMESTAMP | from the detect run: the first instant after them */
/* columns: entity, first_ts, last_ts, summary, evidence_row_ids, window_start, learning */
WITH calls AS (
  SELECT
    ts,
    row_id,
    DATE_TRUNC('HOUR', ts) AS hour
  FROM requests
  WHERE
    request_type IN (
      SELECT
        name
      FROM request_types
      WHERE
        NOT key_topology IS NULL
    )
), hourly AS (
  SELECT
    hour,
    COUNT(*) AS calls,
    CAST(CAST(FROM_UTC_TIMESTAMP(CAST(hour AS TIMESTAMP), :timezone) AS TIMESTAMP_NTZ) AS DATE) AS day
  FROM calls
  GROUP BY
    hour
), daily_peak AS (
  SELECT
    day,
    MAX(calls) AS peak
  FROM hourly
  GROUP BY
    day
), judged AS (
  /* The usual peak from the days before; in the first days of a collection, when fewer */
  /* than min_history_days precede, from the days around (before and after) instead. */
  SELECT
    h.hour,
    h.calls,
    PERCENTILE(CASE WHEN p.day < h.day THEN p.peak END, :baseline_quantile) AS prior_peak,
    COUNT(p.day) FILTER(WHERE
      p.day < h.day) AS prior_days,
    PERCENTILE(p.peak, :baseline_quantile) AS around_peak,
    COUNT(p.day) AS around_days
  FROM hourly AS h
  LEFT JOIN daily_peak AS p
    ON p.day <> h.day
    AND p.day BETWEEN h.day - :baseline_days AND h.day + :baseline_days
  WHERE
    h.calls >= :min_calls
    AND h.hour >= CAST(:judge_from AS TIMESTAMP_NTZ)
    AND h.hour < CAST(:judge_to AS TIMESTAMP_NTZ)
  GROUP BY
    h.hour,
    h.calls
), usual AS (
  SELECT
    hour,
    calls,
    CASE WHEN prior_days >= :min_history_days THEN prior_peak ELSE around_peak END AS usual_peak,
    CASE WHEN prior_days >= :min_history_days THEN prior_days ELSE around_days END AS history_days
  FROM judged
), spikes AS (
  SELECT
    *,
    COALESCE(hour - LAG(hour) OVER (ORDER BY hour NULLS LAST) > INTERVAL '1' HOUR, TRUE) AS starts
  FROM usual
  WHERE
    history_days >= :min_history_days AND calls > :baseline_factor * usual_peak
), episodes AS (
  SELECT
    *,
    SUM(CAST(starts AS INT)) OVER (ORDER BY hour NULLS LAST) AS episode
  FROM spikes
), summaries AS (
  SELECT
    episode,
    MIN(hour) AS first_hour,
    MAX(hour) AS last_hour,
    SUM(calls) AS calls,
    MAX(calls) AS peak,
    MAX(usual_peak) AS usual_peak
  FROM episodes
  GROUP BY
    episode
)
SELECT
  'tenant-key' AS entity,
  MIN(c.ts) AS first_ts,
  MAX(c.ts) AS last_ts,
  IF(
    CAST(s.calls AS STRING) IS NULL
    OR CAST(CAST((
      (
        UNIX_MICROS(CAST(s.last_hour AS TIMESTAMP)) - UNIX_MICROS(CAST(s.first_hour AS TIMESTAMP))
      ) / CAST(1000000 AS DOUBLE) / 3600
    ) AS BIGINT) + 1 AS STRING) IS NULL
    OR CAST(DATE_FORMAT(s.first_hour, 'yyyy-MM-dd HH:mm') AS STRING) IS NULL
    OR CAST(s.peak AS STRING) IS NULL
    OR CAST(CAST(ROUND(s.usual_peak) AS BIGINT) AS STRING) IS NULL,
    NULL,
    FORMAT_STRING(
      '%s tenant-key calls in %s hour(s) from %s UTC; peak %s in an hour against a usual busiest hour of %s',
      CAST(s.calls AS STRING),
      CAST(CAST((
        (
          UNIX_MICROS(CAST(s.last_hour AS TIMESTAMP)) - UNIX_MICROS(CAST(s.first_hour AS TIMESTAMP))
        ) / CAST(1000000 AS DOUBLE) / 3600
      ) AS BIGINT) + 1 AS STRING),
      CAST(DATE_FORMAT(s.first_hour, 'yyyy-MM-dd HH:mm') AS STRING),
      CAST(s.peak AS STRING),
      CAST(CAST(ROUND(s.usual_peak) AS BIGINT) AS STRING)
    )
  ) AS summary,
  IF(
    SIZE(
      TRANSFORM(
        ARRAY_SORT(
          COLLECT_LIST(STRUCT(c.ts AS k0, c.row_id AS k1, c.row_id AS v)),
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
        COLLECT_LIST(STRUCT(c.ts AS k0, c.row_id AS k1, c.row_id AS v)),
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
  s.first_hour AS window_start,
  FALSE AS learning
FROM summaries AS s
/* The calls of each spike hour (an equality join: a range join on the hour compared every */
/* call with every episode). */
JOIN episodes AS e
  USING (episode)
JOIN calls AS c
  ON c.hour = e.hour
GROUP BY
  s.episode,
  s.first_hour,
  s.last_hour,
  s.calls,
  s.peak,
  s.usual_peak
UNION ALL
SELECT
  'tenant-key',
  MIN(hour),
  MAX(hour),
  NULL,
  CAST(ARRAY() AS ARRAY<STRING>),
  MIN(hour),
  TRUE
FROM usual
WHERE
  history_days < :min_history_days
HAVING
  COUNT(*) > 0
