-- Tracing: the W3C trace context of the event handling that recorded the email (NULL when
-- tracing is off); the delivery worker sends it in that trace.
ALTER TABLE deliveries ADD COLUMN trace_context jsonb;
