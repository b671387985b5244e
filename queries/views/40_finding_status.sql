-- name: finding_status
-- description: The latest triage state of each finding that has one (`rmslog triage`): the newest row of the append-only finding_triage trail, with the newest note given and the number of changes. A finding without a row here is open.
CREATE OR REPLACE VIEW finding_status AS
SELECT finding_id, rule, entity, status, owner,
       last_note AS note, changed_at, changed_by, changes
FROM (
    SELECT *,
           row_number() OVER (PARTITION BY finding_id ORDER BY change_id DESC) AS newest,
           count(*) OVER (PARTITION BY finding_id) AS changes,
           last_value(note IGNORE NULLS) OVER (
               PARTITION BY finding_id ORDER BY change_id
               ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS last_note
    FROM finding_triage
)
WHERE newest = 1
