#!/bin/bash
# Entry point of the test MariaDB image (mariadb.Containerfile): on a new
# data folder, install it, set the root password from
# MYSQL_ROOT_PASSWORD_FILE and run /docker-entrypoint-initdb.d/*.sh with a
# server on the socket only, as the MySQL image does; then serve.
set -euo pipefail

args=(--user=mysql --datadir=/var/lib/mysql --bind-address=0.0.0.0 --port=3306
    --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci
    --skip-name-resolve --max-connections=500)
if [[ ! -d /var/lib/mysql/mysql ]]; then
    chown -R mysql:mysql /var/lib/mysql
    mariadb-install-db --user=mysql --datadir=/var/lib/mysql --skip-test-db >/dev/null
    mariadbd "${args[@]}" --skip-networking &
    pid=$!
    for _ in $(seq 1 100); do
        mariadb-admin ping --silent 2>/dev/null && break
        sleep 0.2
    done
    pw=$(cat "${MYSQL_ROOT_PASSWORD_FILE:?MYSQL_ROOT_PASSWORD_FILE is required}")
    mariadb -uroot <<SQL
ALTER USER 'root'@'localhost' IDENTIFIED BY '$pw';
CREATE USER IF NOT EXISTS 'root'@'%' IDENTIFIED BY '$pw';
GRANT ALL PRIVILEGES ON *.* TO 'root'@'%' WITH GRANT OPTION;
SQL
    for f in /docker-entrypoint-initdb.d/*.sh; do
        [[ -e $f ]] && bash "$f"
    done
    mariadb-admin -uroot -p"$pw" shutdown
    wait "$pid" || true
fi
exec mariadbd "${args[@]}"
