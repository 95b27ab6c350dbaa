-- 001_identity.sql - the identity service schema: users (with their
-- argon2id password hashes) and the shared login-throttling state.
--
-- No idempotency_keys table: a create carries a password, and the stored
-- request hash (a fast SHA-256 over the body) would let anyone who reads
-- the table test password guesses without argon2's cost. Creates are
-- safe to retry anyway: the second one finds the email taken (409).
--
-- Written for MySQL 8.0 and MariaDB 10.11 alike (no engine-only syntax).
-- CREATE TABLE IF NOT EXISTS: MySQL DDL is not transactional, so a run that
-- stops halfway can simply be repeated.

-- One row per user. Emails are ASCII (the API's email rule) and compare
-- case-insensitively (ascii_general_ci), so "Ann@x.io" and "ann@x.io" are
-- one account even if a row was written around the API's lower-casing.
-- password_hash is the PHC string of crm_password (argon2id), stored as it
-- is and never returned by the API.
CREATE TABLE IF NOT EXISTS users (
    id            BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    email         VARCHAR(254) CHARACTER SET ascii COLLATE ascii_general_ci NOT NULL,
    name          VARCHAR(200) NOT NULL,
    role          ENUM('admin', 'sales', 'marketing', 'viewer') NOT NULL DEFAULT 'viewer',
    active        TINYINT(1) NOT NULL DEFAULT 1,
    password_hash VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    version       INT UNSIGNED NOT NULL DEFAULT 1,
    created_at    DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    updated_at    DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (id),
    UNIQUE KEY uq_users_email (email),
    -- Keyset paging: every filter or sort column is followed by id.
    KEY ix_users_role (role, id),
    KEY ix_users_active (active, id),
    KEY ix_users_name (name, id),
    KEY ix_users_created (created_at, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Failed logins per account (the normalised email, whether or not such a
-- user exists) and per client address, counted in a fixed window that
-- starts at the first failure after the previous window ended. Kept in the
-- database, not in a worker, so that every worker of every pod counts the
-- same attempts; rows change only through single-statement upserts, so
-- concurrent failures all count. Times are the database's clock (UTC
-- sessions), the one clock every pod shares. Expired rows are purged by
-- window_start.
CREATE TABLE IF NOT EXISTS login_failures (
    scope        ENUM('account', 'address') NOT NULL,
    throttle_key VARCHAR(254) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    failures     INT UNSIGNED NOT NULL DEFAULT 0,
    window_start DATETIME(6) NOT NULL,
    PRIMARY KEY (scope, throttle_key),
    KEY ix_login_failures_window (window_start)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
