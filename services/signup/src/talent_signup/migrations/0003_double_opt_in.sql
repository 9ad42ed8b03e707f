-- Double opt-in: a sign-up may wait for its confirmation ('pending'), and the consent it gave
-- records when it was confirmed.
ALTER TABLE candidates DROP CONSTRAINT candidates_status_check;
ALTER TABLE candidates ADD CONSTRAINT candidates_status_check
    CHECK (status IN ('pending', 'subscribed', 'unsubscribed'));

ALTER TABLE consents ADD COLUMN confirmed_at timestamptz;

-- The housekeeping loop finds expired pending sign-ups through this.
CREATE INDEX candidates_pending_by_age ON candidates (created_at) WHERE status = 'pending';
