-- id: revoked-document-opened
-- title: Revoked document opened, or an attempt to open it
-- severity: high
-- description: Use-licence requests for a document after its owner revoked it (RevokeAccess), by anyone other than the owner or the people who revoked it: the document travelled beyond its intended readers. Denied attempts count too (include_denied), because they show who still holds a copy. One finding per successful revocation that later opens follow, anchored at it (a document revoked again later starts another finding with the opens after that); opens more than revocation_days after their revocation are not judged (a bound, so that judging a day reads a known span of history). Service accounts from the settings are ignored.
-- lookback_days: all
-- lookahead_days: all
-- param: include_denied BOOLEAN = true | count denied attempts, not only successful opens
-- param: revocation_days INTEGER = 3650 | opens up to this many days after the revocation are judged
-- param: service_accounts LIST | from the settings: accounts this rule ignores
-- columns: entity, first_ts, last_ts, summary, evidence_row_ids, window_start
WITH revoked AS (
    -- Each successful revocation, until the next one of the same document: opens belong
    -- to the latest revocation before them.
    SELECT content_id, row_id AS revoke_row_id, ts AS revoked_at, user_id AS revoked_by,
           lead(ts) OVER (PARTITION BY content_id ORDER BY ts, row_id) AS next_revoked_at
    FROM requests
    WHERE request_type = 'RevokeAccess' AND result = 'Success' AND content_id IS NOT NULL
),
revokers AS (
    SELECT content_id, list(DISTINCT lower(revoked_by)) AS revokers
    FROM revoked GROUP BY content_id
),
opens AS (
    SELECT r.content_id, v.revoked_at, r.ts, r.row_id, r.user_id, r.result, r.owner_email,
           r.file_name
    FROM requests r
    JOIN revoked v ON v.content_id = r.content_id AND r.ts > v.revoked_at
     AND (v.next_revoked_at IS NULL OR r.ts <= v.next_revoked_at)
     AND r.ts <= v.revoked_at + to_days($revocation_days)
    JOIN revokers k ON k.content_id = r.content_id
    WHERE r.request_type IN (SELECT name FROM request_types WHERE opens_document)
      AND r.user_id IS NOT NULL
      AND r.user_id NOT IN (SELECT user_id FROM service_users('requests', $service_accounts))
      AND lower(r.user_id) IS DISTINCT FROM lower(r.owner_email)
      AND NOT list_contains(k.revokers, lower(r.user_id))
      AND ($include_denied OR r.result = 'Success')
)
SELECT
    v.content_id AS entity,
    v.revoked_at AS first_ts,
    max(o.ts) AS last_ts,
    format('{} revoked at {} UTC by {}; then {} open(s) ({} successful) by {}',
           coalesce(max(o.file_name), v.content_id), strftime(v.revoked_at, '%Y-%m-%d %H:%M'),
           coalesce(v.revoked_by, 'unknown'), count(*), count(*) FILTER (o.result = 'Success'),
           string_agg(DISTINCT o.user_id, ', ' ORDER BY o.user_id)) AS summary,
    list_prepend(v.revoke_row_id, list(o.row_id ORDER BY o.ts, o.row_id)) AS evidence_row_ids,
    v.revoked_at AS window_start
FROM revoked v
JOIN opens o USING (content_id, revoked_at)
GROUP BY v.content_id, v.revoked_at, v.revoked_by, v.revoke_row_id
