#!/usr/bin/env bash
# Render an NGINX template: every @NAME@ of TEMPLATE replaced by the value
# given as NAME=VALUE, written to OUT (through OUT.tmp, so a reader never
# sees half a file). A placeholder left without a value is an error. The
# local stack (scripts/stack.sh) and the NGINX image
# (containers/nginx.Containerfile) render nginx/nginx.conf.in with it.
#
#   scripts/nginx-render.sh TEMPLATE OUT NAME=VALUE...
set -euo pipefail

(($# >= 2)) || {
    echo "usage: $0 TEMPLATE OUT NAME=VALUE..." >&2
    exit 2
}
template=$1 out=$2
shift 2
t=$(<"$template")
for kv in "$@"; do
    name=${kv%%=*}
    [[ $name =~ ^[A-Z][A-Z0-9_]*$ && $kv == *=* ]] || {
        echo "$0: bad argument '$kv' (NAME=VALUE)" >&2
        exit 2
    }
    t=${t//"@$name@"/"${kv#*=}"}
done
if [[ $t =~ @[A-Z][A-Z0-9_]*@ ]]; then
    echo "$0: $template: placeholder ${BASH_REMATCH[0]} has no value" >&2
    exit 1
fi
printf '%s\n' "$t" >"$out.tmp"
mv "$out.tmp" "$out"
