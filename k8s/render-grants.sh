#!/usr/bin/env bash
# Print sql/grants.sql filled in for one service: its schema crm_SERVICE,
# its accounts crm_SERVICE and crm_SERVICE_migrate (host '%'), with the
# passwords read from two files. For a database the cluster does not run
# (prod) and for password changes; pipe the output into a mysql client
# logged in as the database's administrator (docs/operations.md):
#
#   k8s/render-grants.sh SERVICE PASSWORD_FILE MIGRATE_PASSWORD_FILE [MAX_CONNECTIONS] |
#       mysql -h DB_HOST -u ADMIN -p
#
# MAX_CONNECTIONS (160) caps the connections of the service's account over
# all its pods: 20 pods (the autoscaler's maximum) and a rollout's surge,
# each holding CRM_WORKERS (4) + 2. Passwords never appear on a command
# line; ' and \ in them are escaped for the SQL quotes.
set -euo pipefail

usage() {
    echo "usage: $0 SERVICE PASSWORD_FILE MIGRATE_PASSWORD_FILE [MAX_CONNECTIONS]" >&2
    exit 2
}
(($# == 3 || $# == 4)) || usage
svc=$1 pw_file=$2 mpw_file=$3 max=${4:-160}
[[ $svc =~ ^(customers|sales|marketing|identity)$ ]] || {
    echo "$0: unknown service '$svc' (customers, sales, marketing or identity)" >&2
    exit 2
}
[[ $max =~ ^[1-9][0-9]*$ ]] || {
    echo "$0: MAX_CONNECTIONS must be a positive number" >&2
    exit 2
}
grants=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)/sql/grants.sql

bs="\\" sq="'"
# A file's text for inside SQL quotes: \ and ' escaped. Trailing newlines
# are dropped (a service's _FILE setting drops one: write files with none,
# or one, as `kubectl create secret --from-file` then keeps them).
quoted() {
    local v
    v=$(<"$1")
    [[ -n $v ]] || {
        echo "$0: $1 is empty" >&2
        exit 1
    }
    v=${v//"$bs"/"$bs$bs"}
    printf '%s' "${v//"$sq"/"$bs$sq"}"
}
pw=$(quoted "$pw_file")
mpw=$(quoted "$mpw_file")

sql=$(<"$grants")
sql=${sql//@DB@/"crm_$svc"}
sql=${sql//@HOST@/%}
sql=${sql//@MIGRATE_USER@/"crm_${svc}_migrate"}
sql=${sql//@MIGRATE_PASSWORD@/"$mpw"}
sql=${sql//@USER@/"crm_$svc"}
sql=${sql//@PASSWORD@/"$pw"}
sql=${sql//@MAX_CONNECTIONS@/"$max"}
printf '%s\n' "$sql"
