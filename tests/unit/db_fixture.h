/*
 * db_fixture.h - the live MariaDB/MySQL set-up unit suites share: the
 * server from the environment, as scripts/test.sh provides it,
 *   CRM_TEST_DB_SOCKET    unix socket (required: without it the suite FAILS)
 *   CRM_TEST_DB_USER      an account that may create and drop a database
 *   CRM_TEST_DB_PASSWORD  its password (may be empty or unset)
 * a scratch database crm_test_<suite>_<pid>, connections to it, and the
 * small query helpers the tests assert with.
 *
 * Usage: db_fixture_init("name") in main, then (when it says the server is
 * there) db_fixture_create; build the suite with db_fixture_live deciding
 * whether a tcase gets the real tests; end main with db_fixture_run.
 */
#ifndef DB_FIXTURE_H
#define DB_FIXTURE_H

#include "crm_db.h"

#include <check.h>
#include <stdint.h>

/* Read the environment and name the scratch database crm_test_<suite>_<pid>
   (suite is borrowed, e.g. "db" for test_crm_db). Returns 1 when a socket is
   set, else 0 after printing "test_crm_<suite>: FAIL: ..." to stderr. */
int db_fixture_init(const char *suite);

/* Whether the server is there; if not, add to tc the test that fails for
   it (environment_missing) and the caller adds nothing else. */
int db_fixture_live(TCase *tc);

/* Drop and create the scratch database afresh: CRM_OK, or the failing
   crm_db status after printing to stderr what could not be done. */
int db_fixture_create(void);

/* Run s (freeing it), then drop the scratch database when the server is
   there; EXIT_SUCCESS only when every test passed and the drop worked. */
int db_fixture_run(Suite *s);

/* The scratch database's name (static storage, set by db_fixture_init). */
const char *db_fixture_name(void);

/* Options for the scratch database: the environment's socket, user and
   password (borrowed), a 10 s timeout, no multi-statements. */
crm_db_opts db_fixture_opts(void);

/* A new handle on the scratch database, connected, or the test fails; the
   caller frees it with crm_db_free. */
crm_db *db_fixture_open(void);

/* Run sql on d; the test fails (naming sql) unless it is CRM_OK. */
void db_exec_ok(crm_db *d, const char *sql);

/* The statement key for sql (borrowed, kept): from 100 up, one per
   distinct text; the test fails past 100 texts. */
unsigned db_key_for(const char *sql);

/* sql prepared on d under db_key_for(sql); the test fails if it cannot be.
   The statement belongs to d. */
crm_stmt *db_stmt(crm_db *d, const char *sql);

/* The single integer of the single row sql returns, with param (NULL: none)
   bound to its one placeholder; the test fails on anything else. */
int64_t db_q_int(crm_db *d, const char *sql, const char *param);

#endif
