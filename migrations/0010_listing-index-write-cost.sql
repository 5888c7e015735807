-- Up Migration
-- Measured at 10,000,000 orders (bench --reads-only, bench/README.md): every listing is an index
-- scan of a keyset index with LIMIT 21 and reads at most 21 orders and their items, 0.3-3 ms in
-- PostgreSQL cold; no further index makes a page cheaper (a page returns whole orders with their
-- items, so no index can cover it). What indexes can still give is cheaper writes: these two,
-- from the catalog's v1 DDL, are prefixes of the keyset indexes of 0003 (customer_id, ...) and
-- (status, ...), which answer every query they answered. Each cost every insert an entry, and
-- idx_orders_status every status change another.
DROP INDEX idx_orders_customer;
DROP INDEX idx_orders_status;

-- Down Migration
CREATE INDEX idx_orders_status ON orders (status);
CREATE INDEX idx_orders_customer ON orders (customer_id);
