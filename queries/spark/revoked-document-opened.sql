-- Generated from queries/detections/revoked-document-opened.sql by pipeline/spark/generate.py (sqlglot 30.30.0); do not edit.
/* id: revoked-document-opened */
/* title: Revoked document opened, or an attempt to open it */
/* severity: high */
/* description: Use-licence requests for a document after its owner revoked it (RevokeAccess), by anyone other than the owner or the people who revoked it: the document travelled beyond its intended readers. Denied attempts count too (include_denied), because they show who still holds a copy. One finding per successful revocation that later opens follow, anchored at it (a document revoked again later starts another finding with the opens after that); opens more than revocation_days after their revocation are not judged (a bound, so that judging a day reads a known span of history). Service accounts from the settings are ignored. */
/* lookback_days: all */
/* lookahead_days: all */
/* param: include_denied BOOLEAN = true | count denied attempts, not only successful opens */
/* param: revocation_days INTEGER = 3650 | opens up to this many days after the revocation are judged */
/* param: service_accounts LIST | from the settings: accounts this rule ignores */
/* columns: entity, first_ts, last_ts, summary, evidence_row_ids, window_start */
WITH revoked AS (
  /* Each successful revocation, until the next one of the same document: opens belong */
  /* to the latest revocation before them. */
  SELECT
    content_id,
    row_id AS revoke_row_id,
    ts AS revoked_at,
    user_id AS revoked_by,
    LEAD(ts) OVER (PARTITION BY content_id ORDER BY ts NULLS LAST, row_id NULLS LAST) AS next_revoked_at
  FROM requests
  WHERE
    request_type = 'RevokeAccess' AND result = 'Success' AND NOT content_id IS NULL
), revokers AS (
  SELECT
    content_id,
    COLLECT_LIST(DISTINCT LOWER(revoked_by)) AS revokers
  FROM revoked
  GROUP BY
    content_id
), opens AS (
  SELECT
    r.content_id,
    v.revoked_at,
    r.ts,
    r.row_id,
    r.user_id,
    r.result,
    r.owner_email,
    r.file_name
  FROM requests AS r
  JOIN revoked AS v
    ON v.content_id = r.content_id
    AND r.ts > v.revoked_at
    AND (
      v.next_revoked_at IS NULL OR r.ts <= v.next_revoked_at
    )
    AND r.ts <= v.revoked_at + INTERVAL (:revocation_days) DAY
  JOIN revokers AS k
    ON k.content_id = r.content_id
  WHERE
    r.request_type IN (
      SELECT
        name
      FROM request_types
      WHERE
        opens_document
    )
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
    AND LOWER(r.user_id) IS DISTINCT FROM LOWER(r.owner_email)
    AND NOT ARRAY_CONTAINS(k.revokers, LOWER(r.user_id))
    AND (
      :include_denied OR r.result = 'Success'
    )
)
SELECT
  v.content_id AS entity,
  v.revoked_at AS first_ts,
  MAX(o.ts) AS last_ts,
  IF(
    CAST(COALESCE(MAX(o.file_name), v.content_id) AS STRING) IS NULL
    OR CAST(DATE_FORMAT(v.revoked_at, 'yyyy-MM-dd HH:mm') AS STRING) IS NULL
    OR CAST(COALESCE(v.revoked_by, 'unknown') AS STRING) IS NULL
    OR CAST(COUNT(*) AS STRING) IS NULL
    OR CAST(COUNT(*) FILTER(WHERE
      o.result = 'Success') AS STRING) IS NULL
    OR CAST(IF(
      SIZE(ARRAY_SORT(COLLECT_SET(o.user_id))) = 0,
      NULL,
      ARRAY_JOIN(ARRAY_SORT(COLLECT_SET(o.user_id)), ', ')
    ) AS STRING) IS NULL,
    NULL,
    FORMAT_STRING(
      '%s revoked at %s UTC by %s; then %s open(s) (%s successful) by %s',
      CAST(COALESCE(MAX(o.file_name), v.content_id) AS STRING),
      CAST(DATE_FORMAT(v.revoked_at, 'yyyy-MM-dd HH:mm') AS STRING),
      CAST(COALESCE(v.revoked_by, 'unknown') AS STRING),
      CAST(COUNT(*) AS STRING),
      CAST(COUNT(*) FILTER(WHERE
        o.result = 'Success') AS STRING),
      CAST(IF(
        SIZE(ARRAY_SORT(COLLECT_SET(o.user_id))) = 0,
        NULL,
        ARRAY_JOIN(ARRAY_SORT(COLLECT_SET(o.user_id)), ', ')
      ) AS STRING)
    )
  ) AS summary,
  CONCAT(
    ARRAY(v.revoke_row_id),
    IF(
      SIZE(
        TRANSFORM(
          ARRAY_SORT(
            COLLECT_LIST(STRUCT(o.ts AS k0, o.row_id AS k1, o.row_id AS v)),
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
          COLLECT_LIST(STRUCT(o.ts AS k0, o.row_id AS k1, o.row_id AS v)),
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
    )
  ) AS evidence_row_ids,
  v.revoked_at AS window_start
FROM revoked AS v
JOIN opens AS o
  USING (content_id, revoked_at)
GROUP BY
  v.content_id,
  v.revoked_at,
  v.revoked_by,
  v.revoke_row_id
