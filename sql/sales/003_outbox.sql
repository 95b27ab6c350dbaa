-- 003_outbox.sql - the events sales publishes (order.confirmed,
-- order.cancelled, with the order's lines and totals), written in the same
-- transaction as the change, and how far each subscriber has acknowledged
-- them. The marketing service will subscribe; until a service does, they
-- wait here and are delivered from the first one when it does.
CREATE TABLE IF NOT EXISTS outbox (
    id                 BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    event_id           CHAR(36) CHARACTER SET ascii NOT NULL,
    type               VARCHAR(64) NOT NULL,
    aggregate_id       BIGINT UNSIGNED NOT NULL,
    aggregate_version  INT UNSIGNED NOT NULL,
    occurred_at        DATETIME(6) NOT NULL,
    payload            MEDIUMTEXT NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uq_outbox_event (event_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS outbox_cursors (
    subscriber  VARCHAR(32) CHARACTER SET ascii NOT NULL,
    last_id     BIGINT UNSIGNED NOT NULL DEFAULT 0,
    updated_at  DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (subscriber)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
