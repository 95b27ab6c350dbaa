-- 001_sales.sql - the sales service schema: products, orders and their
-- lines, the replica of the customers it sells to, per-day figures for the
-- summary, and the Idempotency-Key replay store.
--
-- Written for MySQL 8.0 and MariaDB 10.11 alike (no engine-only syntax).
-- CREATE TABLE IF NOT EXISTS: MySQL DDL is not transactional, so a run that
-- stops halfway can simply be repeated.
--
-- Money is BIGINT minor units; the service keeps every stored amount at or
-- below 2^53 - 1 and refuses what would exceed it. The per-day sums are
-- DECIMAL so that no amount of sales overflows them.

-- stock NULL: not tracked (never short). sku is unique case-insensitively
-- (the collation); the FULLTEXT key serves ?q=.
CREATE TABLE IF NOT EXISTS products (
    id           BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    sku          VARCHAR(64) NOT NULL,
    name         VARCHAR(200) NOT NULL,
    description  VARCHAR(2000) NULL,
    price_cents  BIGINT NOT NULL,
    currency     CHAR(3) CHARACTER SET ascii NOT NULL,
    stock        BIGINT NULL,
    active       TINYINT(1) NOT NULL DEFAULT 1,
    version      INT UNSIGNED NOT NULL DEFAULT 1,
    created_at   DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    updated_at   DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (id),
    UNIQUE KEY uq_products_sku (sku),
    -- Keyset paging: every filter or sort column is followed by id.
    KEY ix_products_name (name, id),
    KEY ix_products_created (created_at, id),
    KEY ix_products_active (active, id),
    KEY ix_products_currency (currency, id),
    FULLTEXT KEY ft_products (name, sku, description),
    CONSTRAINT ck_products_price CHECK (price_cents >= 0),
    CONSTRAINT ck_products_stock CHECK (stock IS NULL OR stock >= 0)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The customers sales has sold to or been asked about, as last heard from
-- the customers service (read-through now, events later). version is the
-- customer's own version there: an older answer never overwrites a newer.
CREATE TABLE IF NOT EXISTS customers (
    id          BIGINT UNSIGNED NOT NULL,
    name        VARCHAR(200) NOT NULL,
    email       VARCHAR(254) NOT NULL,
    status      VARCHAR(16) NOT NULL,
    deleted     TINYINT(1) NOT NULL DEFAULT 0,
    version     INT UNSIGNED NOT NULL,
    synced_at   DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- total_cents and line_count are kept by the service in the same
-- transaction as every change of the lines.
CREATE TABLE IF NOT EXISTS orders (
    id            BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    customer_id   BIGINT UNSIGNED NOT NULL,
    currency      CHAR(3) CHARACTER SET ascii NOT NULL,
    status        ENUM('draft', 'confirmed', 'fulfilled', 'cancelled') NOT NULL DEFAULT 'draft',
    campaign_id   BIGINT UNSIGNED NULL,
    note          VARCHAR(2000) NULL,
    total_cents   BIGINT NOT NULL DEFAULT 0,
    line_count    INT UNSIGNED NOT NULL DEFAULT 0,
    version       INT UNSIGNED NOT NULL DEFAULT 1,
    created_at    DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    updated_at    DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    confirmed_at  DATETIME(6) NULL,
    fulfilled_at  DATETIME(6) NULL,
    cancelled_at  DATETIME(6) NULL,
    PRIMARY KEY (id),
    -- Keyset paging newest first under each filter ((col, created_at, id)).
    KEY ix_orders_created (created_at),
    KEY ix_orders_customer (customer_id, created_at),
    KEY ix_orders_status (status, created_at),
    KEY ix_orders_campaign (campaign_id, created_at),
    CONSTRAINT fk_orders_customer FOREIGN KEY (customer_id) REFERENCES customers (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- sku, name and unit price are captured when the line is added. reserved
-- is the stock the confirmation took for this line (0 for untracked
-- products), which is exactly what a cancellation puts back.
CREATE TABLE IF NOT EXISTS order_lines (
    id                BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    order_id          BIGINT UNSIGNED NOT NULL,
    product_id        BIGINT UNSIGNED NOT NULL,
    sku               VARCHAR(64) NOT NULL,
    name              VARCHAR(200) NOT NULL,
    quantity          INT UNSIGNED NOT NULL,
    unit_price_cents  BIGINT NOT NULL,
    line_total_cents  BIGINT NOT NULL,
    reserved          INT UNSIGNED NOT NULL DEFAULT 0,
    PRIMARY KEY (id),
    KEY ix_order_lines_order (order_id, id),
    KEY ix_order_lines_product (product_id),
    CONSTRAINT fk_order_lines_order FOREIGN KEY (order_id) REFERENCES orders (id),
    CONSTRAINT fk_order_lines_product FOREIGN KEY (product_id) REFERENCES products (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Per-day figures for GET /api/v1/sales/summary, changed by the same
-- transactions that create, confirm and cancel orders:
--   sales_daily           revenue of orders confirmed that day (not cancelled since)
--   sales_daily_products  the same per product
--   sales_daily_status    orders created that day, by their current status
-- Every confirmation touches one sales_daily and one sales_daily_status
-- row of its day, so those spread each figure over 8 rows (slot = order
-- id mod 8) for concurrent confirmations not to queue on one row lock;
-- readers sum the slots. sales_daily_products has one row per day and
-- product (confirmations of one product already queue on its stock), which
-- keeps the top-products query to days x products sold.
CREATE TABLE IF NOT EXISTS sales_daily (
    day            DATE NOT NULL,
    currency       CHAR(3) CHARACTER SET ascii NOT NULL,
    slot           TINYINT UNSIGNED NOT NULL,
    orders         BIGINT NOT NULL DEFAULT 0,
    revenue_cents  DECIMAL(30, 0) NOT NULL DEFAULT 0,
    PRIMARY KEY (day, currency, slot)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS sales_daily_products (
    day            DATE NOT NULL,
    product_id     BIGINT UNSIGNED NOT NULL,
    currency       CHAR(3) CHARACTER SET ascii NOT NULL,
    units          BIGINT NOT NULL DEFAULT 0,
    revenue_cents  DECIMAL(30, 0) NOT NULL DEFAULT 0,
    PRIMARY KEY (day, product_id, currency)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS sales_daily_status (
    day      DATE NOT NULL,
    status   ENUM('draft', 'confirmed', 'fulfilled', 'cancelled') NOT NULL,
    slot     TINYINT UNSIGNED NOT NULL,
    orders   BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (day, status, slot)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- First response to a POST with an Idempotency-Key (see shared/crm_idem.h).
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
