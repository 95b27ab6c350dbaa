#!/bin/bash
# The NGINX image's entry point: render nginx.conf.in for this container
# into /tmp (a tmpfs; the root file system stays read-only) and run NGINX
# in the foreground, logging to stdout and stderr.
set -euo pipefail

dir=/tmp/nginx
mkdir -p "$dir/temp" "$dir/tls"
# NGINX wants cert.pem and key.pem in one folder: link the secrets there.
ln -sf /run/secrets/tls_cert "$dir/tls/cert.pem"
ln -sf /run/secrets/tls_key "$dir/tls/key.pem"

# One upstream server line per replica; a replica that fails 3 times is
# left alone for 10 s (passive health checks).
servers() {
    local list=$1 out="" s
    for s in $list; do
        out+="server $s max_fails=3 fail_timeout=10s; "
    done
    printf '%s' "$out"
}

exec_args=()
for svc in customers sales marketing identity; do
    var=CRM_UPSTREAM_${svc^^}
    exec_args+=("SERVERS_${svc^^}=$(servers "${!var:-$svc:9000}")")
done

crm-nginx-render /usr/share/crm/nginx.conf.in "$dir/nginx.conf" \
    "USER_LINE=# runs as uid $(id -u)" \
    "KEEPALIVE_LINE=# no keepalive: fastcgi_keep_conn is off" "KEEP_CONN=off" \
    "NGINX_DIR=$dir" "TLS_DIR=$dir/tls" "HTML_DIR=/usr/share/crm/html" \
    "ERROR_LOG=/dev/stderr" "ACCESS_LOG=/dev/stdout" \
    "LISTEN_ADDR=0.0.0.0" "INTERNAL_ADDR=0.0.0.0" \
    "INTERNAL_ALLOW=allow 10.0.0.0/8; allow 172.16.0.0/12; allow 192.168.0.0/16; allow 100.64.0.0/10; allow 127.0.0.1;" \
    "HTTPS_PORT=8443" "HTTP_PORT=8080" "INTERNAL_PORT=8081" \
    "LOGIN_RATE=${CRM_LOGIN_RATE:-30r/m}" "WRITE_RATE=${CRM_WRITE_RATE:-100r/s}" \
    "${exec_args[@]}"
exec nginx -p "$dir/" -c "$dir/nginx.conf" -e /dev/stderr -g 'daemon off;'
