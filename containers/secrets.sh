#!/usr/bin/env bash
# Make the secrets of the container stack (compose.yaml reads them as
# files; none is ever inline or in an image): database passwords, the event
# key, the token key pair, the first admin's password and a self-signed TLS
# certificate, in a 0700 folder; existing files are kept.
#
#   containers/secrets.sh [DIR]       (default containers/secrets)
set -euo pipefail

DIR=${1:-$(dirname "${BASH_SOURCE[0]}")/secrets}
mkdir -p "$DIR"
chmod 0700 "$DIR"
umask 077

# Random [A-Za-z0-9] text: safe inside SQL quotes and shell words.
random() { openssl rand -base64 48 | tr -dc 'A-Za-z0-9' | head -c 32; }

for name in db_root event_key admin_password \
    customers_db customers_migrate sales_db sales_migrate \
    marketing_db marketing_migrate identity_db identity_migrate; do
    [[ -s $DIR/$name ]] || random >"$DIR/$name"
done
if [[ ! -s $DIR/jwt_signing || ! -s $DIR/jwt_public ]]; then
    openssl genpkey -algorithm ed25519 -out "$DIR/jwt_signing" 2>/dev/null
    openssl pkey -in "$DIR/jwt_signing" -pubout -out "$DIR/jwt_public" 2>/dev/null
fi
if [[ ! -s $DIR/tls_cert || ! -s $DIR/tls_key ]]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 825 \
        -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
        -keyout "$DIR/tls_key" -out "$DIR/tls_cert" >/dev/null 2>&1
fi
# The containers run as uid 10001 (MySQL as its own user) and see each file
# through a bind mount, owner and mode as here: the files are readable by
# all, and the folder (0700) keeps the host's other users out.
chmod 0644 "$DIR"/*
echo "secrets in $DIR"
