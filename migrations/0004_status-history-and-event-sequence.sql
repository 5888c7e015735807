-- Up Migration
-- The lifecycle engine: every transition of an order has a per-order sequence (0 is its
-- creation) and a row in order_status_history saying from where to where, why, who asked and
-- when. Events are keyed by (order, sequence, type), so one event type may occur many times
-- per order. Events stored before keep their ids (the ce_id they were published with).

CREATE TABLE order_status_history (
    order_id    UUID NOT NULL REFERENCES orders (order_id) ON DELETE CASCADE,
    sequence    INTEGER NOT NULL CHECK (sequence >= 0),
    command     TEXT NOT NULL,                -- 'create' for sequence 0, else the table's command
    from_status TEXT,                         -- NULL only for the creation
    to_status   TEXT NOT NULL,
    reason      TEXT,
    actor       TEXT NOT NULL CHECK (length(actor) BETWEEN 1 AND 200),
    occurred_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (order_id, sequence),
    CONSTRAINT order_status_history_creation CHECK ((sequence = 0) = (from_status IS NULL))
);

INSERT INTO order_status_history (order_id, sequence, command, from_status, to_status, reason, actor, occurred_at)
SELECT order_id, 0, 'create', NULL, 'CREATED', NULL, 'migration', created_at FROM orders;

INSERT INTO order_status_history (order_id, sequence, command, from_status, to_status, reason, actor, occurred_at)
SELECT order_id, 1, CASE status WHEN 'COMPLETED' THEN 'complete' ELSE 'cancel' END, 'CREATED', status,
       cancellation_reason, 'migration', COALESCE(completed_at, cancelled_at)
  FROM orders WHERE status IN ('COMPLETED', 'CANCELLED');

ALTER TABLE order_events ADD COLUMN sequence INTEGER CHECK (sequence >= 0);
UPDATE order_events SET sequence = CASE WHEN event_type = 'OrderCreated' THEN 0 ELSE 1 END;
ALTER TABLE order_events
    ALTER COLUMN sequence SET NOT NULL,
    DROP CONSTRAINT order_events_order_id_event_type_key,
    ADD CONSTRAINT order_events_order_sequence_type_key UNIQUE (order_id, sequence, event_type);

-- Down Migration
ALTER TABLE order_events
    DROP CONSTRAINT order_events_order_sequence_type_key,
    ADD CONSTRAINT order_events_order_id_event_type_key UNIQUE (order_id, event_type),
    DROP COLUMN sequence;
DROP TABLE order_status_history;
