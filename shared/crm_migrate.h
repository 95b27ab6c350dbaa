/*
 * crm_migrate.h - apply sql/<service>/NNN_name.sql files once each, in
 * order of NNN, recorded in schema_migrations, under GET_LOCK so that many
 * pods starting at once apply each file once.
 */
#ifndef CRM_MIGRATE_H
#define CRM_MIGRATE_H

#include "crm_db.h"

/*
 * Apply every file of dir not yet recorded. db must have been opened with
 * multi_statements. Returns CRM_OK (also when nothing was pending) or
 * CRM_ERR (logged with the file name; later files are not applied).
 */
int crm_migrate_run(crm_db *db, const char *dir, const char *lock_name);

/* Count the files of dir not yet recorded. CRM_OK, CRM_GONE or CRM_ERR. */
int crm_migrate_pending(crm_db *db, const char *dir, int *pending);

#endif
