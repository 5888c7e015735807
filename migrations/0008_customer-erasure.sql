-- Up Migration
-- Erasure of a customer's personal data (POST /customers/{customerId}/erasure). Every request is
-- audited in customer_erasures, whatever its outcome; each order erased is in
-- customer_erased_orders once, with what its archive's checksum covered. The outbox takes the
-- CustomerDataErased event (ours, beyond the catalog) beside the catalog's.

CREATE TABLE customer_erasures (
    erasure_id   UUID PRIMARY KEY,
    customer_id  UUID NOT NULL,
    requested_by TEXT NOT NULL CHECK (length(requested_by) BETWEEN 1 AND 200),  -- the caller, as the history's actor
    requested_at TIMESTAMPTZ NOT NULL,
    -- ERASED: this request erased order_ids (none when the customer had no order left to erase);
    -- ALREADY_ERASED: nothing left, answered with the result of answered_with;
    -- REFUSED_OPEN_ORDERS: order_ids are the customer's open orders, nothing erased.
    outcome      TEXT NOT NULL CHECK (outcome IN ('ERASED', 'ALREADY_ERASED', 'REFUSED_OPEN_ORDERS')),
    order_count  INTEGER NOT NULL CHECK (order_count >= 0),
    order_ids    UUID[] NOT NULL,
    answered_with UUID REFERENCES customer_erasures (erasure_id),
    CONSTRAINT customer_erasures_count CHECK (order_count = cardinality(order_ids)),
    CONSTRAINT customer_erasures_repeat CHECK ((outcome = 'ALREADY_ERASED') = (answered_with IS NOT NULL))
);

CREATE INDEX customer_erasures_customer ON customer_erasures (customer_id, requested_at DESC);

CREATE TABLE customer_erased_orders (
    order_id     UUID PRIMARY KEY REFERENCES orders (order_id) ON DELETE CASCADE,
    erasure_id   UUID NOT NULL REFERENCES customer_erasures (erasure_id),
    erased_at    TIMESTAMPTZ NOT NULL,
    -- An archived order keeps the recordChecksum its OrderArchived published: it covers the record
    -- as archived, before the erasure. The checksum of the same record after the erasure, computed
    -- the same way, is kept here. Both NULL for an order erased before its archival (its archive's
    -- checksum will cover the erased record).
    archived_record_checksum TEXT CHECK (archived_record_checksum ~ '^[a-f0-9]{64}$'),
    erased_record_checksum   TEXT CHECK (erased_record_checksum ~ '^[a-f0-9]{64}$'),
    CONSTRAINT customer_erased_orders_checksums
        CHECK ((archived_record_checksum IS NULL) = (erased_record_checksum IS NULL))
);

CREATE INDEX customer_erased_orders_erasure ON customer_erased_orders (erasure_id);

ALTER TABLE order_events DROP CONSTRAINT order_events_event_type_check;
ALTER TABLE order_events ADD CONSTRAINT order_events_event_type_check CHECK (event_type IN (
    'OrderCreated', 'OrderConfirmed', 'OrderAmended', 'OrderPlacedOnHold', 'OrderHoldReleased',
    'OrderFulfilmentStarted', 'OrderStatusChanged', 'OrderDeliveryAddressChanged', 'OrderArchived',
    'OrderCompleted', 'OrderCancelled', 'CustomerDataErased'));

-- Down Migration
ALTER TABLE order_events DROP CONSTRAINT order_events_event_type_check;
DELETE FROM order_events WHERE event_type = 'CustomerDataErased';
ALTER TABLE order_events ADD CONSTRAINT order_events_event_type_check CHECK (event_type IN (
    'OrderCreated', 'OrderConfirmed', 'OrderAmended', 'OrderPlacedOnHold', 'OrderHoldReleased',
    'OrderFulfilmentStarted', 'OrderStatusChanged', 'OrderDeliveryAddressChanged', 'OrderArchived',
    'OrderCompleted', 'OrderCancelled'));
DROP TABLE customer_erased_orders;
DROP TABLE customer_erasures;
