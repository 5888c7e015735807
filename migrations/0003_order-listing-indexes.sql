-- Up Migration
-- Keyset pagination of GET /orders, newest first, optionally filtered by customer or status:
-- each index serves its filter and the (created_at, order_id) order without a sort.
CREATE INDEX orders_created_keyset ON orders (created_at DESC, order_id DESC);
CREATE INDEX orders_customer_created_keyset ON orders (customer_id, created_at DESC, order_id DESC);
CREATE INDEX orders_status_created_keyset ON orders (status, created_at DESC, order_id DESC);

-- Down Migration
DROP INDEX orders_status_created_keyset;
DROP INDEX orders_customer_created_keyset;
DROP INDEX orders_created_keyset;
