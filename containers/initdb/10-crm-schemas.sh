#!/bin/bash
# Run once by the MySQL image's entry point when its data folder is new
# (/docker-entrypoint-initdb.d): one schema and two accounts per service
# from sql/grants.sql (mounted at /crm/grants.sql), with the passwords of
# the mounted secrets. The accounts may connect from any host of the
# compose network ('%'); nothing but the services can reach the database.
set -euo pipefail

root_pw=$(cat "${MYSQL_ROOT_PASSWORD_FILE:-/run/secrets/db_root}")
for svc in customers sales marketing identity; do
    sql=$(</crm/grants.sql)
    sql=${sql//@DB@/crm_$svc}
    sql=${sql//@HOST@/%}
    sql=${sql//@MIGRATE_USER@/crm_${svc}_migrate}
    sql=${sql//@MIGRATE_PASSWORD@/$(cat "/run/secrets/${svc}_migrate")}
    sql=${sql//@USER@/crm_$svc}
    sql=${sql//@PASSWORD@/$(cat "/run/secrets/${svc}_db")}
    sql=${sql//@MAX_CONNECTIONS@/${CRM_DB_MAX_CONNECTIONS:-100}}
    printf '%s\n' "$sql" | mysql --protocol=socket -uroot -p"$root_pw"
    echo "initdb: crm_$svc and its accounts are ready"
done
