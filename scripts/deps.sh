#!/usr/bin/env bash
# Install the Debian/Ubuntu packages the project needs (`make deps`), and
# the npm packages of the Kubernetes and browser suites (tests/k8s and
# tests/browser, each from its committed package-lock.json: `npm ci`).
#
# Idempotent: when every package is already installed it does nothing at all
# (no apt-get, no sudo, no npm). Otherwise it runs `apt-get update` once and
# installs only what is missing, as root or through sudo. Package installs
# must not start system services (a system MariaDB or NGINX would fight ours
# for ports), so a policy-rc.d that forbids starts is put in place for the
# duration of the install when the machine has none.
set -euo pipefail

PACKAGES=(
    build-essential pkg-config
    libfcgi-dev libfcgi-bin
    default-libmysqlclient-dev libjson-c-dev libmicrohttpd-dev
    libcurl4-openssl-dev libssl-dev libargon2-dev
    check libsubunit-dev
    mariadb-server mariadb-client
    nginx openssl wrk
    clang-format cppcheck
    curl ca-certificates
    podman runc podman-compose docker-compose debootstrap
    chromium fonts-dejavu-core
)
# Asked for only when the command is missing, so as not to clash with one
# installed another way: a kubectl (or kustomize) renders k8s/ (Debian 12's
# kubernetes-client is kubectl 1.20, whose kustomize k8s/ stays within);
# Node.js and npm run tests/k8s and tests/browser (playwright-core drives
# Debian's chromium; it downloads no browser of its own).
if ! command -v kubectl >/dev/null 2>&1 && ! command -v kustomize >/dev/null 2>&1; then
    PACKAGES+=(kubernetes-client)
fi
command -v node >/dev/null 2>&1 || PACKAGES+=(nodejs)
command -v npm >/dev/null 2>&1 || PACKAGES+=(npm)

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
# Each suite's node_modules from its lock file, when missing or older than
# it. (npm warns that kubernetes-models 5 asks for Node 22: it runs on Node
# 20, as the suite shows.)
npm_deps() {
    local suite dir
    for suite in k8s browser; do
        dir=$REPO/tests/$suite
        [[ -f $dir/package-lock.json ]] || continue
        if [[ ! -f $dir/node_modules/.package-lock.json || $dir/package-lock.json -nt $dir/node_modules/.package-lock.json ]]; then
            echo "deps: npm ci --prefix tests/$suite"
            npm ci --prefix "$dir" --no-audit --no-fund
        fi
    done
}

# Print the packages of "$@" that are not installed (one dpkg-query call;
# packages dpkg has never heard of are simply absent from its answer).
not_installed() {
    local -A ok=()
    local name status p
    while read -r name status; do
        [[ $status == installed ]] && ok[${name%%:*}]=1
    done < <(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "$@" 2>/dev/null || true)
    for p in "$@"; do
        [[ -n ${ok[$p]:-} ]] || echo "$p"
    done
}

mapfile -t missing < <(not_installed "${PACKAGES[@]}")

if ((${#missing[@]} == 0)); then
    npm_deps
    exit 0
fi

echo "deps: installing ${missing[*]}"

SUDO=()
if ((EUID != 0)); then
    if ! command -v sudo >/dev/null 2>&1; then
        echo "deps: missing packages and not root, and sudo is not installed." >&2
        echo "deps: as root run: apt-get install ${missing[*]}" >&2
        exit 1
    fi
    SUDO=(sudo)
fi

POLICY=/usr/sbin/policy-rc.d
created_policy=0
cleanup() {
    if ((created_policy)); then
        "${SUDO[@]}" rm -f "$POLICY"
    fi
}
trap cleanup EXIT
if [[ ! -e $POLICY ]]; then
    # Exit 101 = "action forbidden": invoke-rc.d then starts no service.
    printf '#!/bin/sh\n# crm scripts/deps.sh: no service starts during install\nexit 101\n' |
        "${SUDO[@]}" tee "$POLICY" >/dev/null
    "${SUDO[@]}" chmod 0755 "$POLICY"
    created_policy=1
fi

export DEBIAN_FRONTEND=noninteractive
apt=("${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -y -q
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
"${apt[@]}" update
"${apt[@]}" install --no-install-recommends "${missing[@]}"

mapfile -t still < <(not_installed "${missing[@]}")
if ((${#still[@]})); then
    echo "deps: still missing after install: ${still[*]}" >&2
    exit 1
fi
npm_deps
echo "deps: done"
