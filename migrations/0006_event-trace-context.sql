-- Up Migration
-- The W3C trace context each event was committed in (OpenTelemetry), published with it as
-- ce_traceparent / ce_tracestate, so a sweeper's republish carries the original context.
-- Events of untraced operations (tracing off, or written before this) have none.
ALTER TABLE order_events
    ADD COLUMN traceparent TEXT CHECK (traceparent ~ '^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$'),
    ADD COLUMN tracestate TEXT CHECK (tracestate IS NULL OR (length(tracestate) <= 512 AND traceparent IS NOT NULL));

-- Down Migration
ALTER TABLE order_events DROP COLUMN tracestate, DROP COLUMN traceparent;
