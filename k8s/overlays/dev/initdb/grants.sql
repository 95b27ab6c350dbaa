-- grants.sql - database and accounts of a service (every service: one
-- schema, one DML-only account for its workers, one DDL account for migrate).
--
-- A template, not a migration (crm_migrate only reads NNN_name.sql): the
-- stack script substitutes the placeholders below and runs it as the
-- database administrator, once per service, before `crm-SERVICE migrate`.
--
--   @DB@                schema of the service, e.g. crm_customers, crm_sales
--   @HOST@              host part of both accounts, e.g. localhost or '%'
--   @USER@ @PASSWORD@   the account the service's workers use (DML only)
--   @MIGRATE_USER@ @MIGRATE_PASSWORD@
--                       the account `crm-SERVICE migrate` uses (DDL too)
--   @MAX_CONNECTIONS@   connections the service's account may hold at once,
--                       over all its pods: workers, supervisor and sidecar
--                       each hold one (2 x cores + 2 per pod by default)
--
-- Substituted values go inside quotes: the script must escape ' and \ in
-- passwords (or use only [A-Za-z0-9] ones).
--
-- Safe to run again: objects are created only when missing, ALTER USER
-- sets the passwords given (so a re-run rotates them), and each account is
-- left with exactly the privileges below. Valid for MySQL 8.0 and MariaDB
-- 10.11 alike.

CREATE DATABASE IF NOT EXISTS `@DB@`
    DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

CREATE USER IF NOT EXISTS '@USER@'@'@HOST@' IDENTIFIED BY '@PASSWORD@';
CREATE USER IF NOT EXISTS '@MIGRATE_USER@'@'@HOST@' IDENTIFIED BY '@MIGRATE_PASSWORD@';
ALTER USER '@USER@'@'@HOST@' IDENTIFIED BY '@PASSWORD@';
ALTER USER '@MIGRATE_USER@'@'@HOST@' IDENTIFIED BY '@MIGRATE_PASSWORD@';

-- A runaway service (a connection leak, a pool sized wrong) runs out of its
-- own connections instead of the server's: the other services keep theirs.
-- Migrations hold one connection each, and wait on the migration lock.
ALTER USER '@USER@'@'@HOST@' WITH MAX_USER_CONNECTIONS @MAX_CONNECTIONS@;
ALTER USER '@MIGRATE_USER@'@'@HOST@' WITH MAX_USER_CONNECTIONS 10;

-- Start from nothing so that privileges granted by hand earlier (or by an
-- older version of this file) do not survive: "only" means only.
REVOKE ALL PRIVILEGES, GRANT OPTION FROM '@USER@'@'@HOST@';
REVOKE ALL PRIVILEGES, GRANT OPTION FROM '@MIGRATE_USER@'@'@HOST@';

-- The service reads and writes rows of its own schema, nothing else: no
-- DDL, no other schema, no global privilege. GET_LOCK needs no privilege.
GRANT SELECT, INSERT, UPDATE, DELETE ON `@DB@`.* TO '@USER@'@'@HOST@';

-- Migrations also create and change tables of that schema (REFERENCES for
-- foreign keys, which MySQL 8 checks) and record themselves in
-- schema_migrations.
GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, DROP, INDEX, REFERENCES
    ON `@DB@`.* TO '@MIGRATE_USER@'@'@HOST@';
