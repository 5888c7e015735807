-- Up Migration
-- The catalog's full lifecycle (its head AsyncAPI): confirmation, holds, amendments, the
-- delivery address, fulfilment and archival. Each new fact of an order is a column; the
-- open hold, the fulfilment and the archive record are each one JSON document, written and
-- read whole. Existing orders keep their meaning: revision 1, no address, no hold.

ALTER TABLE orders DROP CONSTRAINT orders_status_check;
ALTER TABLE orders ADD CONSTRAINT orders_status_check CHECK (status IN (
    'CREATED', 'CONFIRMED', 'ON_HOLD', 'AWAITING_FULFILMENT', 'FULFILLING', 'COMPLETED', 'CANCELLED', 'ARCHIVED'));

-- An archived order keeps the timestamp of the status it ended in.
ALTER TABLE orders
    DROP CONSTRAINT orders_completed_consistent,
    DROP CONSTRAINT orders_cancelled_consistent,
    ADD CONSTRAINT orders_completed_consistent CHECK (
        (status = 'COMPLETED') <= (completed_at IS NOT NULL)
        AND (completed_at IS NULL OR status IN ('COMPLETED', 'ARCHIVED'))),
    ADD CONSTRAINT orders_cancelled_consistent CHECK (
        (status = 'CANCELLED') <= (cancelled_at IS NOT NULL AND cancellation_reason IS NOT NULL)
        AND (cancelled_at IS NULL OR status IN ('CANCELLED', 'ARCHIVED'))),
    ADD CONSTRAINT orders_not_completed_and_cancelled CHECK (completed_at IS NULL OR cancelled_at IS NULL);

-- ORD- and 8 digits: unique, from one sequence, never reused.
CREATE SEQUENCE order_confirmation_number_seq MINVALUE 1 MAXVALUE 99999999 NO CYCLE;

ALTER TABLE orders
    ADD COLUMN revision                 INTEGER NOT NULL DEFAULT 1 CHECK (revision >= 1),
    ADD COLUMN confirmation_number      TEXT UNIQUE CHECK (confirmation_number ~ '^ORD-[0-9]{8}$'),
    ADD COLUMN confirmed_at             TIMESTAMPTZ,
    ADD COLUMN inventory_reservation_id TEXT,
    ADD COLUMN delivery_method          TEXT CHECK (delivery_method IN ('HOME_DELIVERY', 'CLICK_AND_COLLECT')),
    ADD COLUMN delivery_address         JSONB,
    ADD COLUMN address_revision         INTEGER NOT NULL DEFAULT 1 CHECK (address_revision >= 1),
    ADD COLUMN promotion_code           TEXT,
    ADD COLUMN hold                     JSONB,
    ADD COLUMN hold_overdue             BOOLEAN NOT NULL DEFAULT false,
    ADD COLUMN fulfilment               JSONB,
    ADD COLUMN legal_hold               BOOLEAN NOT NULL DEFAULT false,
    ADD COLUMN archive                  JSONB,
    ADD CONSTRAINT orders_confirmed_consistent CHECK ((confirmation_number IS NULL) = (confirmed_at IS NULL)),
    ADD CONSTRAINT orders_hold_consistent CHECK ((status = 'ON_HOLD') = (hold IS NOT NULL)),
    ADD CONSTRAINT orders_archive_consistent CHECK ((status = 'ARCHIVED') = (archive IS NOT NULL));

-- Overdue holds, for operators: few rows, so a partial index.
CREATE INDEX orders_hold_overdue ON orders (created_at DESC, order_id DESC) WHERE hold_overdue;

-- A transition may emit several events (a release: OrderHoldReleased, OrderConfirmed,
-- OrderStatusChanged): their position keeps the order in which they are published.
ALTER TABLE order_events ADD COLUMN position SMALLINT NOT NULL DEFAULT 0;
ALTER TABLE order_events DROP CONSTRAINT order_events_event_type_check;
ALTER TABLE order_events ADD CONSTRAINT order_events_event_type_check CHECK (event_type IN (
    'OrderCreated', 'OrderConfirmed', 'OrderAmended', 'OrderPlacedOnHold', 'OrderHoldReleased',
    'OrderFulfilmentStarted', 'OrderStatusChanged', 'OrderDeliveryAddressChanged', 'OrderArchived',
    'OrderCompleted', 'OrderCancelled'));

-- Down Migration
ALTER TABLE order_events DROP CONSTRAINT order_events_event_type_check;
DELETE FROM order_events WHERE event_type NOT IN ('OrderCreated', 'OrderCompleted', 'OrderCancelled');
ALTER TABLE order_events ADD CONSTRAINT order_events_event_type_check
    CHECK (event_type IN ('OrderCreated', 'OrderCompleted', 'OrderCancelled'));
ALTER TABLE order_events DROP COLUMN position;
DROP INDEX orders_hold_overdue;
ALTER TABLE orders
    DROP CONSTRAINT orders_archive_consistent,
    DROP CONSTRAINT orders_hold_consistent,
    DROP CONSTRAINT orders_confirmed_consistent,
    DROP COLUMN archive,
    DROP COLUMN legal_hold,
    DROP COLUMN fulfilment,
    DROP COLUMN hold_overdue,
    DROP COLUMN hold,
    DROP COLUMN promotion_code,
    DROP COLUMN address_revision,
    DROP COLUMN delivery_address,
    DROP COLUMN delivery_method,
    DROP COLUMN inventory_reservation_id,
    DROP COLUMN confirmed_at,
    DROP COLUMN confirmation_number,
    DROP COLUMN revision;
DROP SEQUENCE order_confirmation_number_seq;
ALTER TABLE orders
    DROP CONSTRAINT orders_not_completed_and_cancelled,
    DROP CONSTRAINT orders_cancelled_consistent,
    DROP CONSTRAINT orders_completed_consistent,
    ADD CONSTRAINT orders_completed_consistent CHECK ((status = 'COMPLETED') = (completed_at IS NOT NULL)),
    ADD CONSTRAINT orders_cancelled_consistent
        CHECK ((status = 'CANCELLED') = (cancelled_at IS NOT NULL AND cancellation_reason IS NOT NULL));
ALTER TABLE orders DROP CONSTRAINT orders_status_check;
ALTER TABLE orders ADD CONSTRAINT orders_status_check CHECK (status IN ('CREATED', 'COMPLETED', 'CANCELLED'));
