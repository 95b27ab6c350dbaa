-- 001_marketing.sql - the marketing service schema.
--
-- Marketing owns campaigns and segments. Everything it knows about
-- customers and their orders comes from events (customer.*, order.*); it
-- never reads another service's tables. A deleted customer keeps its id and
-- its anonymous metrics here; name, email and tags are erased.

-- One row per customer heard of, from customer.* events (version > 0) or
-- first from an order event (version 0: no customer event yet). The
-- metrics columns change with each order event applied, under the row's
-- lock, by what the event changed in this schema's copy of the order.
CREATE TABLE IF NOT EXISTS customers (
    id             BIGINT UNSIGNED NOT NULL,
    name           VARCHAR(200) NULL,
    email          VARCHAR(254) NULL,
    status         VARCHAR(16) NULL,
    deleted        TINYINT(1) NOT NULL DEFAULT 0,
    version        BIGINT UNSIGNED NOT NULL DEFAULT 0,
    orders_count   INT UNSIGNED NOT NULL DEFAULT 0,
    -- confirmed orders in the reporting currency (CRM_REPORTING_CURRENCY)
    revenue_cents  BIGINT NOT NULL DEFAULT 0,
    first_order_at DATETIME(6) NULL,
    last_order_at  DATETIME(6) NULL,
    updated_at     DATETIME(6) NOT NULL,
    PRIMARY KEY (id),
    -- RFM quintile cut-offs (OFFSET over each) and score predicates
    KEY ix_customers_orders (orders_count),
    KEY ix_customers_revenue (revenue_cents, orders_count),
    KEY ix_customers_last_order (last_order_at),
    -- "did anything change since the last RFM refresh"
    KEY ix_customers_updated (updated_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The customers' tags, for segment rules on tags.
CREATE TABLE IF NOT EXISTS customer_tags (
    customer_id BIGINT UNSIGNED NOT NULL,
    tag         VARCHAR(32) NOT NULL,
    PRIMARY KEY (customer_id, tag),
    KEY ix_customer_tags_tag (tag, customer_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The orders sales confirmed or cancelled (order.* events), enough to
-- compute the metrics and campaign attribution. counted: the order is
-- confirmed and in the metrics. version: the order's version in sales; an
-- older event changes nothing.
CREATE TABLE IF NOT EXISTS orders (
    id           BIGINT UNSIGNED NOT NULL,
    customer_id  BIGINT UNSIGNED NOT NULL,
    campaign_id  BIGINT UNSIGNED NULL,
    currency     CHAR(3) CHARACTER SET ascii NOT NULL,
    total_cents  BIGINT NOT NULL,
    status       VARCHAR(16) NOT NULL,
    counted      TINYINT(1) NOT NULL,
    confirmed_at DATETIME(6) NULL,
    version      BIGINT UNSIGNED NOT NULL,
    PRIMARY KEY (id),
    -- a customer's first and last counted order, and its orders by currency
    KEY ix_orders_customer (customer_id, counted, confirmed_at),
    KEY ix_orders_campaign (campaign_id, counted)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- RFM: quintile cut-offs over the customers with at least one order, and
-- the 5 x 5 recency x frequency grid, recomputed by the refresher when
-- metrics changed (never per request). One row, id = 1.
CREATE TABLE IF NOT EXISTS rfm (
    id          TINYINT UNSIGNED NOT NULL,
    customers   INT UNSIGNED NOT NULL,
    r1 DATETIME(6) NULL, r2 DATETIME(6) NULL, r3 DATETIME(6) NULL, r4 DATETIME(6) NULL,
    f1 BIGINT NULL, f2 BIGINT NULL, f3 BIGINT NULL, f4 BIGINT NULL,
    m1 BIGINT NULL, m2 BIGINT NULL, m3 BIGINT NULL, m4 BIGINT NULL,
    -- the newest customers.updated_at the figures saw
    seen_at     DATETIME(6) NULL,
    computed_at DATETIME(6) NOT NULL,
    PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS rfm_grid (
    recency       TINYINT UNSIGNED NOT NULL,
    frequency     TINYINT UNSIGNED NOT NULL,
    customers     INT UNSIGNED NOT NULL,
    revenue_cents BIGINT NOT NULL,
    PRIMARY KEY (recency, frequency)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Segments: a named rule (canonical JSON, as the API shows it).
CREATE TABLE IF NOT EXISTS segments (
    id          BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    name        VARCHAR(200) NOT NULL,
    description VARCHAR(2000) NULL,
    rule        TEXT NOT NULL,
    version     BIGINT UNSIGNED NOT NULL DEFAULT 1,
    created_at  DATETIME(6) NOT NULL,
    updated_at  DATETIME(6) NOT NULL,
    PRIMARY KEY (id),
    KEY ix_segments_created (created_at, id),
    KEY ix_segments_name (name, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS campaigns (
    id           BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    name         VARCHAR(200) NOT NULL,
    description  VARCHAR(2000) NULL,
    channel      VARCHAR(16) NOT NULL,
    status       VARCHAR(16) NOT NULL DEFAULT 'draft',
    budget_cents BIGINT NOT NULL DEFAULT 0,
    currency     CHAR(3) CHARACTER SET ascii NOT NULL,
    starts_at    DATETIME(6) NULL,
    ends_at      DATETIME(6) NULL,
    segment_id   BIGINT UNSIGNED NULL,
    version      BIGINT UNSIGNED NOT NULL DEFAULT 1,
    created_at   DATETIME(6) NOT NULL,
    updated_at   DATETIME(6) NOT NULL,
    PRIMARY KEY (id),
    KEY ix_campaigns_created (created_at, id),
    KEY ix_campaigns_name (name, id),
    KEY ix_campaigns_status (status, created_at, id),
    KEY ix_campaigns_channel (channel, created_at, id),
    CONSTRAINT fk_campaigns_segment FOREIGN KEY (segment_id) REFERENCES segments (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Events applied (crm_inbox), in the same transaction as applying each.
CREATE TABLE IF NOT EXISTS inbox (
    event_id     CHAR(36) CHARACTER SET ascii NOT NULL,
    type         VARCHAR(64) NOT NULL,
    received_at  DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (event_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Idempotency-Key claims (crm_idem), as in the other services.
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
