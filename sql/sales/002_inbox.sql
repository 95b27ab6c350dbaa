-- 002_inbox.sql - the events sales has applied (customer.* into the
-- replica), recorded in the same transaction as applying each, so a
-- redelivered event changes nothing.
CREATE TABLE IF NOT EXISTS inbox (
    event_id     CHAR(36) CHARACTER SET ascii NOT NULL,
    type         VARCHAR(64) NOT NULL,
    received_at  DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (event_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
