-- Up Migration
-- What the lifecycle needs beyond the catalog's DDL: one order per cart, the terminal
-- timestamps and reason, and the outbox of events written in the same transaction as
-- the state change that they announce.

ALTER TABLE orders
    ADD COLUMN payment_authorization_id TEXT,
    ADD COLUMN completed_at        TIMESTAMPTZ,
    ADD COLUMN cancelled_at        TIMESTAMPTZ,
    ADD COLUMN cancellation_reason TEXT
        CHECK (cancellation_reason IN ('CUSTOMER_REQUESTED', 'PAYMENT_FAILED', 'OUT_OF_STOCK', 'FRAUD')),
    -- The status and its timestamps can never disagree.
    ADD CONSTRAINT orders_completed_consistent
        CHECK ((status = 'COMPLETED') = (completed_at IS NOT NULL)),
    ADD CONSTRAINT orders_cancelled_consistent
        CHECK ((status = 'CANCELLED') = (cancelled_at IS NOT NULL AND cancellation_reason IS NOT NULL));

-- Items keep the order in which checkout listed them.
ALTER TABLE order_items ADD COLUMN line_number SMALLINT NOT NULL DEFAULT 0;

-- One cart, one order, ever.
CREATE UNIQUE INDEX orders_cart_id_key ON orders (cart_id);

CREATE TABLE order_events (
    event_id     UUID PRIMARY KEY,            -- the CloudEvents ce_id, the same on every retry
    order_id     UUID NOT NULL REFERENCES orders (order_id) ON DELETE CASCADE,
    event_type   TEXT NOT NULL CHECK (event_type IN ('OrderCreated', 'OrderCompleted', 'OrderCancelled')),
    payload      TEXT NOT NULL,               -- the exact bytes published, so retries resend them
    occurred_at  TIMESTAMPTZ NOT NULL,        -- ce_time; equals the order's timestamp for this event
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    published_at TIMESTAMPTZ,
    UNIQUE (order_id, event_type)
);

-- At most one terminal event per order.
CREATE UNIQUE INDEX order_events_one_terminal
    ON order_events (order_id) WHERE event_type IN ('OrderCompleted', 'OrderCancelled');

-- The sweeper's scan of what is still to publish.
CREATE INDEX order_events_unpublished ON order_events (created_at) WHERE published_at IS NULL;

-- Down Migration
DROP TABLE order_events;
DROP INDEX orders_cart_id_key;
ALTER TABLE order_items DROP COLUMN line_number;
ALTER TABLE orders
    DROP CONSTRAINT orders_cancelled_consistent,
    DROP CONSTRAINT orders_completed_consistent,
    DROP COLUMN cancellation_reason,
    DROP COLUMN cancelled_at,
    DROP COLUMN completed_at,
    DROP COLUMN payment_authorization_id;
