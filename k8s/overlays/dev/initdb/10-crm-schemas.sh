#!/bin/bash
# Run once by the MySQL image's entry point when its data folder is new
# (/docker-entrypoint-initdb.d; the ConfigMap mysql-initdb): a schema and
# two accounts per service from grants.sql (the same file as sql/grants.sql,
# mounted at /crm/grants.sql), with the passwords of the Secrets
# crm-db-<service> (keys password and migrate-password) mounted under
# /run/secrets/crm-db-<service>/. The accounts may connect from any
# address ('%'): the NetworkPolicies let only the services reach MySQL.
#
# The same job as containers/initdb/10-crm-schemas.sh, with the secrets
# where the pod mounts them. A later password change: docs/operations.md.
# CRM_INITDB_SECRETS, CRM_INITDB_GRANTS and CRM_INITDB_SOCKET move the
# secrets, grants.sql and the server's socket (for tests).
set -euo pipefail

secrets=${CRM_INITDB_SECRETS:-/run/secrets}
grants=${CRM_INITDB_GRANTS:-/crm/grants.sql}

# The root password goes to the client in an option file (0600, on the
# pod's /tmp), never on a command line.
cnf=$(mktemp /tmp/crm-initdb.XXXXXX)
trap 'rm -f "$cnf"' EXIT
bs="\\" dq='"' sq="'"
root_pw=$(<"${MYSQL_ROOT_PASSWORD_FILE:?}")
root_pw=${root_pw//"$bs"/"$bs$bs"}
{
    printf '[client]\nuser=root\npassword="%s"\n' "${root_pw//"$dq"/"$bs$dq"}"
    if [[ -n ${CRM_INITDB_SOCKET:-} ]]; then
        printf 'socket=%s\n' "$CRM_INITDB_SOCKET"
    fi
} >"$cnf"

# A value for inside SQL quotes: \ and ' escaped.
sql_quote() {
    local v=$1
    v=${v//"$bs"/"$bs$bs"}
    printf '%s' "${v//"$sq"/"$bs$sq"}"
}

for svc in customers sales marketing identity; do
    dir=$secrets/crm-db-$svc
    sql=$(<"$grants")
    sql=${sql//@DB@/crm_$svc}
    sql=${sql//@HOST@/%}
    sql=${sql//@MIGRATE_USER@/crm_${svc}_migrate}
    sql=${sql//@MIGRATE_PASSWORD@/"$(sql_quote "$(<"$dir/migrate-password")")"}
    sql=${sql//@USER@/crm_$svc}
    sql=${sql//@PASSWORD@/"$(sql_quote "$(<"$dir/password")")"}
    sql=${sql//@MAX_CONNECTIONS@/"${CRM_DB_MAX_CONNECTIONS:-160}"}
    printf '%s\n' "$sql" | mysql --defaults-extra-file="$cnf" --protocol=socket
    echo "initdb: crm_$svc and its accounts are ready"
done
