-- Tracing: the W3C trace context of the request that wrote the row (NULL when tracing is off),
-- made current again when the relay publishes it, so the Kafka message continues that trace.
ALTER TABLE outbox ADD COLUMN trace_context jsonb;
