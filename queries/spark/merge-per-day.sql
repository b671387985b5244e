-- Generated from pipeline/detect/rules.py MERGE_PER_DAY by pipeline/spark/generate.py (sqlglot 30.30.0); do not edit.
WITH w AS (
  SELECT
    *,
    CAST(CAST(FROM_UTC_TIMESTAMP(CAST(window_start AS TIMESTAMP), :timezone) AS TIMESTAMP_NTZ) AS DATE) AS day,
    COUNT(*) OVER (
      PARTITION BY entity, CAST(CAST(FROM_UTC_TIMESTAMP(CAST(window_start AS TIMESTAMP), :timezone) AS TIMESTAMP_NTZ) AS DATE)
    ) AS n
  FROM rule_output
  WHERE
    NOT learning
)
SELECT
  MD5(
    CONCAT_WS('|', :rule, entity, DATE_FORMAT(MIN(window_start), 'yyyy-MM-dd\'T\'HH:mm:ss'))
  ) AS finding_id,
  :rule AS rule,
  COALESCE(
    MAX_BY(severity, NULLIF(ARRAY_POSITION(ARRAY('low', 'medium', 'high'), severity), 0)),
    :severity
  ) AS severity,
  MIN(first_ts) AS first_ts,
  MAX(last_ts) AS last_ts,
  entity,
  CASE
    WHEN ANY_VALUE(n) IGNORE NULLS = 1
    THEN ANY_VALUE(summary) IGNORE NULLS
    ELSE IF(
      CAST(ANY_VALUE(n) IGNORE NULLS AS STRING) IS NULL
      OR CAST(DATE_FORMAT(day, 'yyyy-MM-dd') AS STRING) IS NULL
      OR CAST(IF(
        SIZE(
          TRANSFORM(
            ARRAY_SORT(
              COLLECT_LIST(STRUCT(window_start AS k0, first_ts AS k1, summary AS v)),
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
        ARRAY_JOIN(
          TRANSFORM(
            ARRAY_SORT(
              COLLECT_LIST(STRUCT(window_start AS k0, first_ts AS k1, summary AS v)),
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
          ),
          ' | '
        )
      ) AS STRING) IS NULL,
      NULL,
      FORMAT_STRING(
        '%s windows on %s: %s',
        CAST(ANY_VALUE(n) IGNORE NULLS AS STRING),
        CAST(DATE_FORMAT(day, 'yyyy-MM-dd') AS STRING),
        CAST(IF(
          SIZE(
            TRANSFORM(
              ARRAY_SORT(
                COLLECT_LIST(STRUCT(window_start AS k0, first_ts AS k1, summary AS v)),
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
          ARRAY_JOIN(
            TRANSFORM(
              ARRAY_SORT(
                COLLECT_LIST(STRUCT(window_start AS k0, first_ts AS k1, summary AS v)),
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
            ),
            ' | '
          )
        ) AS STRING)
      )
    )
  END AS summary,
  FLATTEN(
    IF(
      SIZE(
        TRANSFORM(
          ARRAY_SORT(
            COLLECT_LIST(STRUCT(window_start AS k0, first_ts AS k1, evidence_row_ids AS v)),
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
          COLLECT_LIST(STRUCT(window_start AS k0, first_ts AS k1, evidence_row_ids AS v)),
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
  MIN(window_start) AS window_start
FROM w
GROUP BY
  entity,
  day
