-- Up Migration
-- The hot table stays small: an archived order's rows move, in its archival transaction, from
-- orders, order_items, order_status_history (and its events once published, from order_events)
-- to the archive tables below (moveOrdersToArchive in src/db/orders-repository.ts), so the hot
-- tables and their indexes hold the orders still active or within their retention. Tables rather
-- than monthly partitions: an order is archived by when it ended, not by when it was created, so
-- no created_at partition ever stops receiving writes and could be detached, and the reads by id
-- would probe every partition; two tables cost the reads by id at most one more index probe.
--
-- RULE: every column added later to a hot table must be added to its archive table too, in the
-- same migration and the same position (the move copies rows with SELECT *, and the reads union
-- both tables). test/integration/archive-tables.test.ts compares the column lists.
--
-- The archive tables have the hot tables' columns, defaults and checks (LIKE), and only the
-- indexes their reads need. No foreign keys: rows arrive only through the move, which moves an
-- order with all its rows in one transaction, and a key check per row would cost the bulk move
-- (10,000 orders a batch) a probe per item, history row and event.

CREATE TABLE orders_archive (LIKE orders INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
ALTER TABLE orders_archive
    ADD PRIMARY KEY (order_id),
    ADD CONSTRAINT orders_archive_archived CHECK (status = 'ARCHIVED');
-- A repeated CreateOrder finds its cart's order here once archived.
CREATE UNIQUE INDEX orders_archive_cart_id_key ON orders_archive (cart_id);
-- GET /orders?archived=true, newest first, by customer or not (keyset); the erasure's lookup by customer.
CREATE INDEX orders_archive_created_keyset ON orders_archive (created_at DESC, order_id DESC);
CREATE INDEX orders_archive_customer_created_keyset ON orders_archive (customer_id, created_at DESC, order_id DESC);
-- Empty (an archived order has no open hold): answers ?archived=true&holdOverdue=true without a scan.
CREATE INDEX orders_archive_hold_overdue ON orders_archive (created_at DESC, order_id DESC) WHERE hold_overdue;

CREATE TABLE order_items_archive (LIKE order_items INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
ALTER TABLE order_items_archive ADD PRIMARY KEY (order_id, product_id);

CREATE TABLE order_status_history_archive (LIKE order_status_history INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
ALTER TABLE order_status_history_archive ADD PRIMARY KEY (order_id, sequence);

-- Published events only: an event waits in order_events until it is published, then moves.
CREATE TABLE order_events_archive (LIKE order_events INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
ALTER TABLE order_events_archive
    ADD PRIMARY KEY (event_id),
    ADD CONSTRAINT order_events_archive_order_sequence_type_key UNIQUE (order_id, sequence, event_type),
    ADD CONSTRAINT order_events_archive_published CHECK (published_at IS NOT NULL);

-- An order's events outlive its hot row until published, and its erasure record outlives it
-- for good: neither may be cascade-deleted by the move. Items and history keep theirs (they move
-- before their order, in the same transaction).
ALTER TABLE order_events DROP CONSTRAINT order_events_order_id_fkey;
ALTER TABLE customer_erased_orders DROP CONSTRAINT customer_erased_orders_order_id_fkey;

-- Orders archived before this migration move now, as the sweep would have moved them.
INSERT INTO orders_archive SELECT * FROM orders WHERE status = 'ARCHIVED';
WITH moved AS (
    DELETE FROM order_items WHERE order_id IN (SELECT order_id FROM orders_archive) RETURNING *
) INSERT INTO order_items_archive SELECT * FROM moved;
WITH moved AS (
    DELETE FROM order_status_history WHERE order_id IN (SELECT order_id FROM orders_archive) RETURNING *
) INSERT INTO order_status_history_archive SELECT * FROM moved;
WITH moved AS (
    DELETE FROM order_events
     WHERE order_id IN (SELECT order_id FROM orders_archive) AND published_at IS NOT NULL RETURNING *
) INSERT INTO order_events_archive SELECT * FROM moved;
DELETE FROM orders WHERE order_id IN (SELECT order_id FROM orders_archive);

-- Down Migration
-- Archived orders come back to the hot tables, then the archive tables go.
INSERT INTO orders SELECT * FROM orders_archive;
INSERT INTO order_items SELECT * FROM order_items_archive;
INSERT INTO order_status_history SELECT * FROM order_status_history_archive;
INSERT INTO order_events SELECT * FROM order_events_archive;
DELETE FROM order_events e WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.order_id = e.order_id);
DELETE FROM customer_erased_orders e WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.order_id = e.order_id);
ALTER TABLE customer_erased_orders
    ADD CONSTRAINT customer_erased_orders_order_id_fkey
        FOREIGN KEY (order_id) REFERENCES orders (order_id) ON DELETE CASCADE;
ALTER TABLE order_events
    ADD CONSTRAINT order_events_order_id_fkey FOREIGN KEY (order_id) REFERENCES orders (order_id) ON DELETE CASCADE;
DROP TABLE order_events_archive;
DROP TABLE order_status_history_archive;
DROP TABLE order_items_archive;
DROP TABLE orders_archive;
