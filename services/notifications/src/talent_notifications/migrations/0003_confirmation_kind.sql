-- Double opt-in: the confirmation email is a delivery kind of its own (one per candidate).
ALTER TABLE deliveries DROP CONSTRAINT deliveries_kind_check;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_kind_check
    CHECK (kind IN ('welcome', 'job_alert', 'digest', 'confirmation'));
