-- name: refused-files
-- description: Files ingest refused whole and has not stored since; listed whatever the period, because a refused file has no timestamps to place it.
-- columns: path, reason, refused_at
SELECT r.path, r.reason, r.refused_at
FROM refused_files r
WHERE NOT EXISTS (
    SELECT 1 FROM ingested_files f WHERE f.path = r.path AND f.ingested_at > r.refused_at
)
ORDER BY r.refused_at, r.path
