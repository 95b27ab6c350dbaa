-- 001_customers.sql - the customers service schema: customers, their tags,
-- their activity timeline, and the Idempotency-Key replay store.
--
-- Written for MySQL 8.0 and MariaDB 10.11 alike (no engine-only syntax).
-- CREATE TABLE IF NOT EXISTS: MySQL DDL is not transactional, so a run that
-- stops halfway can simply be repeated.

-- One row per customer. Deleting is soft (deleted_at); email_live is the
-- email of live rows only, so the unique key lets a deleted customer's
-- address be used again. tags is the JSON array text reads return;
-- customer_tags is the same set, indexed for the ?tag= filter.
CREATE TABLE IF NOT EXISTS customers (
    id          BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    name        VARCHAR(200) NOT NULL,
    email       VARCHAR(254) NOT NULL,
    phone       VARCHAR(32) NULL,
    company     VARCHAR(200) NULL,
    status      ENUM('lead', 'prospect', 'customer', 'churned') NOT NULL DEFAULT 'lead',
    owner_id    BIGINT UNSIGNED NULL,
    tags        VARCHAR(1000) NOT NULL DEFAULT '[]',
    version     INT UNSIGNED NOT NULL DEFAULT 1,
    created_at  DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    updated_at  DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    deleted_at  DATETIME(6) NULL,
    email_live  VARCHAR(254) GENERATED ALWAYS AS (IF(deleted_at IS NULL, email, NULL)) STORED,
    PRIMARY KEY (id),
    UNIQUE KEY uq_customers_email_live (email_live),
    -- Keyset paging: every filter or sort column is followed by id.
    KEY ix_customers_status (status, id),
    KEY ix_customers_owner (owner_id, id),
    KEY ix_customers_name (name, id),
    KEY ix_customers_created (created_at, id),
    KEY ix_customers_updated (updated_at, id),
    FULLTEXT KEY ft_customers (name, email, company)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Tag membership; the primary key serves "customers with tag X" in id order.
CREATE TABLE IF NOT EXISTS customer_tags (
    customer_id BIGINT UNSIGNED NOT NULL,
    tag         VARCHAR(32) NOT NULL,
    PRIMARY KEY (tag, customer_id),
    KEY ix_customer_tags_customer (customer_id),
    CONSTRAINT fk_customer_tags_customer FOREIGN KEY (customer_id) REFERENCES customers (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The activity timeline of a customer, read newest first by (customer_id, id).
CREATE TABLE IF NOT EXISTS customer_notes (
    id          BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    customer_id BIGINT UNSIGNED NOT NULL,
    kind        ENUM('note', 'call', 'email', 'meeting') NOT NULL DEFAULT 'note',
    body        TEXT NOT NULL,
    author_id   BIGINT UNSIGNED NULL,
    created_at  DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (id),
    KEY ix_customer_notes_customer (customer_id, id),
    CONSTRAINT fk_customer_notes_customer FOREIGN KEY (customer_id) REFERENCES customers (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- First response to a POST with an Idempotency-Key, replayed on retries.
-- Keys compare byte for byte (ascii_bin): "abc" and "ABC" are two keys.
-- request_hash is the SHA-256 of the request in hex, to refuse the same key with
-- another body; status NULL means the first request is still in flight.
-- Rows older than 24 hours are purged by created_at.
CREATE TABLE IF NOT EXISTS idempotency_keys (
    scope        VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    idem_key     VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    request_hash CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    status       SMALLINT NULL,
    location     VARCHAR(255) NULL,
    etag         VARCHAR(32) NULL,
    body         MEDIUMTEXT NULL,
    created_at   DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (scope, idem_key),
    KEY ix_idempotency_keys_created (created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
