-- The archive sweep (src/workflows/archive-sweep.ts) pages through ended orders, longest-ended
-- first, instead of a workflow per ended order waiting for its archival timer. This index
-- holds only the ended orders not yet archived, so it stays as small as what is due.
CREATE INDEX orders_archive_due ON orders ((COALESCE(completed_at, cancelled_at)), order_id)
    WHERE status IN ('COMPLETED', 'CANCELLED');
