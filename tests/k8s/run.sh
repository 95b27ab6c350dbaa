#!/usr/bin/env bash
# The Kubernetes suite (part of `make test`): the manifests of k8s/, checked
# without a cluster.
#
#   1. render: `kubectl kustomize` (or `kustomize build`) of k8s/overlays/dev
#      and k8s/overlays/prod;
#   2. schema: every rendered object against the OpenAPI schema of a current
#      Kubernetes (validate.mjs, kubernetes-models 5, offline), unknown
#      fields and kinds included; then proof that it fails on broken
#      objects (fixtures/broken);
#   3. policy: the platform's rules (policy.mjs: replicas, rollouts, probes,
#      resources, Pod Security restricted, HPAs, PDBs, NetworkPolicies ...),
#      and its mutation mode: every rule must catch its field broken;
#   4. podman kube play: the dev overlay's Deployments, with local image
#      names, run under Podman against the test MariaDB image (the overlay's
#      own initdb script and grants.sql), until each pod passes its
#      readiness probe's request; NGINX routes to every service by its
#      Service name. What Podman 4.3 cannot play as rendered is adapted in
#      play.mjs, which says why.
#
# Prints "N passed, M failed" (checks) last and exits 1 on any failure.
# Everything it starts is removed at the end. State (renderings, logs,
# test secrets) in $CRM_TEST_K8S_STATE (default state/k8s).
#
# Environment: CRM_K8S_DIR (default k8s), CRM_K8S_PLAY=0 skips step 4,
# CRM_K8S_KEEP=1 leaves what step 4 started running (to look at it),
# CRM_K8S_SERVICES (default "customers sales marketing identity").
set -uo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
cd "$REPO" || exit 1

export CONTAINERS_CONF=${CONTAINERS_CONF:-$REPO/containers/podman.conf}
STATE=${CRM_TEST_K8S_STATE:-$REPO/state/k8s}
K8S=${CRM_K8S_DIR:-k8s}
HERE=tests/k8s
OVERLAYS=(dev prod)
read -r -a SERVICES <<<"${CRM_K8S_SERVICES:-customers sales marketing identity}"
export CRM_K8S_SERVICES="${SERVICES[*]}"
BASE=localhost/debian:bookworm-slim
TAG="test"
# Every Podman object this suite makes is named crm-k8s-... (pods are named
# by podman kube play: <deployment>-pod-0).
NETWORK=crm-k8s-test
DB=crm-k8s-test-mysql
READY_SECONDS=${CRM_K8S_READY_SECONDS:-120}

# shellcheck source=SCRIPTDIR/../lib/checks.sh
. "$REPO/tests/lib/checks.sh"
# rejects FILE [OBJECT]: validate.mjs refuses FILE (exit 1, or 2 for a file
# that is not YAML) and says so of FILE (of OBJECT, when given): a crash
# does not count as a refusal.
rejects() {
    local out rc
    out=$(node "$HERE/validate.mjs" "$1" 2>&1)
    rc=$?
    printf '%s\n' "$out"
    ((rc == 1 || rc == 2)) || return 1
    grep -qE "^(FAIL  |validate: )$1: ${2:-}" <<<"$out"
}

teardown() {
    local f
    command -v podman >/dev/null 2>&1 || return 0
    for f in "$STATE"/play/*.yaml; do
        [[ -e $f ]] && podman kube down "$f" >/dev/null 2>&1
    done
    podman rm -f "$DB" >/dev/null 2>&1
    # What kube play made for the pods: the secrets and volumes of play.mjs.
    for f in "$STATE"/play/secrets/*.yaml; do
        [[ -e $f ]] || continue
        f=$(basename "$f" .yaml)
        podman secret rm "$f" >/dev/null 2>&1
        podman volume rm -f "$f" >/dev/null 2>&1
    done
    mapfile -t vols < <(podman volume ls -q --filter name=crm-k8s- 2>/dev/null)
    ((${#vols[@]} == 0)) || podman volume rm -f "${vols[@]}" >/dev/null 2>&1
    podman network rm -f "$NETWORK" >/dev/null 2>&1
    return 0
}

finish() {
    if [[ ${CRM_K8S_KEEP:-0} == 1 ]]; then
        echo "k8s: CRM_K8S_KEEP=1: the pods, $DB and network $NETWORK stay (the next run removes them)"
    else
        teardown
    fi
    echo
    echo "$passed passed, $failed failed"
    if ((failed > 0)); then exit 1; fi
    exit 0
}

render() { # render OVERLAY-DIR: the manifests, on stdout
    if command -v kubectl >/dev/null 2>&1; then
        kubectl kustomize "$1"
    else
        kustomize build "$1"
    fi
}

if ! command -v kubectl >/dev/null 2>&1 && ! command -v kustomize >/dev/null 2>&1; then
    echo "k8s: neither kubectl nor kustomize is installed (make deps installs one)" >&2
    exit 1
fi
if ! command -v node >/dev/null 2>&1 || [[ ! -d $HERE/node_modules/kubernetes-models ]]; then
    echo "k8s: node or tests/k8s/node_modules is missing (make deps runs npm ci --prefix tests/k8s)" >&2
    exit 1
fi
# What an interrupted run left (its files name it), then a clean state.
teardown
rm -rf "$STATE"
mkdir -p "$STATE"
chmod 0700 "$STATE"
trap finish EXIT
trap 'exit 130' INT TERM

# ---- 1. render -------------------------------------------------------------
rendered=()
for o in "${OVERLAYS[@]}"; do
    if render "$K8S/overlays/$o" >"$STATE/$o.yaml" 2>"$STATE/render-$o.log"; then
        ok "$K8S/overlays/$o renders ($(grep -c '^kind:' "$STATE/$o.yaml") objects)"
        rendered+=("$STATE/$o.yaml")
    else
        sed 's/^/    /' "$STATE/render-$o.log"
        bad "$K8S/overlays/$o renders"
    fi
done
# Each optional component (k8s/components/*) on the prod overlay, as the
# README says to add it. Components need kustomize 3.7 or later: kubectl
# 1.20's (kustomize 2.0.3) renders none, so they are left out with it.
components_ok() {
    command -v kubectl >/dev/null 2>&1 || return 0
    kubectl version --client 2>/dev/null | grep -qE 'Kustomize Version: v([4-9]|3\.([7-9]|[1-9][0-9]))'
}
for c in "$K8S"/components/*/; do
    [[ -e $c/kustomization.yaml && -s $STATE/prod.yaml ]] || continue
    c=$(basename "$c")
    if ! components_ok; then
        echo "k8s: component $c not rendered: this kubectl's kustomize predates components"
        continue
    fi
    mkdir -p "$STATE/prod+$c"
    printf 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - %s\ncomponents:\n  - %s\n' \
        "$(realpath --relative-to="$STATE/prod+$c" "$K8S/overlays/prod")" \
        "$(realpath --relative-to="$STATE/prod+$c" "$K8S/components/$c")" >"$STATE/prod+$c/kustomization.yaml"
    if render "$STATE/prod+$c" >"$STATE/prod+$c.yaml" 2>"$STATE/render-prod+$c.log"; then
        ok "$K8S/overlays/prod with components/$c renders ($(grep -c '^kind:' "$STATE/prod+$c.yaml") objects)"
        rendered+=("$STATE/prod+$c.yaml")
    else
        sed 's/^/    /' "$STATE/render-prod+$c.log"
        bad "$K8S/overlays/prod with components/$c renders"
    fi
done
# The dev overlay carries a copy of sql/grants.sql (kustomize reads nothing
# outside its folder): it must not drift from the original.
if [[ -e $K8S/overlays/dev/initdb/grants.sql ]]; then
    check "$K8S/overlays/dev/initdb/grants.sql is the same as sql/grants.sql" \
        cmp "$K8S/overlays/dev/initdb/grants.sql" sql/grants.sql
fi
# No Secret and no key in any file under k8s/, rendered by an overlay or
# not (policy.mjs checks what the overlays render).
no_secret_files() {
    ! grep -rlE '^kind:[[:space:]]*Secret[[:space:]]*$|^[[:space:]]*(secretGenerator|stringData):|BEGIN [A-Z ]*PRIVATE KEY' "$K8S"
}
check "no Secret, secretGenerator or private key in any file under $K8S/" no_secret_files
((${#rendered[@]} > 0)) || exit 1

# ---- 2. schema ---------------------------------------------------------------
for f in "${rendered[@]}"; do
    o=$(basename "$f" .yaml)
    if node "$HERE/validate.mjs" "$f" >"$STATE/validate-$o.log" 2>&1; then
        ok "$o: $(sed -n 's/^ok  *[^:]*: //p' "$STATE/validate-$o.log") against the Kubernetes schema"
    else
        grep -v '^ok' "$STATE/validate-$o.log" | head -n 20 | sed 's/^/    /'
        bad "$o: every object valid against the Kubernetes schema"
    fi
done
# It can fail: each broken fixture, and the dev rendering with one broken
# object added, must be refused.
for f in "$HERE"/fixtures/broken/*.yaml; do
    why=$(sed -n '1s/^# validate.mjs must reject[^:]*: //p' "$f")
    check "validate.mjs rejects $(basename "$f") (${why:-see the file})" rejects "$f"
done
if [[ -s $STATE/dev.yaml ]]; then
    {
        cat "$STATE/dev.yaml"
        printf -- '---\n'
        sed '/^#/d' "$HERE/fixtures/broken/unknown-field.yaml"
    } >"$STATE/dev-broken.yaml"
    check "validate.mjs rejects the dev rendering with one misspelt field added" \
        rejects "$STATE/dev-broken.yaml" "Deployment/typo: unknown field"
fi

# ---- 3. policy ---------------------------------------------------------------
# One check per rule for each overlay; one for all of them on an overlay
# with a component (the same rules, the component's own among them).
for f in "${rendered[@]}"; do
    o=$(basename "$f" .yaml)
    node "$HERE/policy.mjs" "$f" >"$STATE/policy-$o.log" 2>&1
    rc=$?
    nok=$(grep -c '^ok    ' "$STATE/policy-$o.log")
    nfail=$(grep -c '^FAIL  ' "$STATE/policy-$o.log")
    if ((nok + nfail == 0 || (rc != 0) != (nfail != 0))); then
        sed 's/^/    /' "$STATE/policy-$o.log"
        bad "$o: policy.mjs ran (exit $rc)"
    elif [[ $o == *+* ]]; then
        if ((nfail == 0)); then
            ok "$o: policy, all $nok rules"
        else
            grep -v '^ok    ' "$STATE/policy-$o.log" | sed 's/^/    /'
            bad "$o: policy, $nfail of $((nok + nfail)) rules failed"
        fi
    else
        while IFS= read -r line; do
            case $line in
            "ok    "*) ok "$o: policy ${line#*: }" ;;
            "FAIL  "*) bad "$o: policy ${line#*: }" ;;
            *) printf '%s\n' "$line" ;;
            esac
        done <"$STATE/policy-$o.log"
    fi
    if node "$HERE/policy.mjs" --mutate "$f" >"$STATE/mutate-$o.log" 2>&1; then
        ok "$o: $(tail -n 1 "$STATE/mutate-$o.log" | sed 's/^[^:]*: //') (policy.mjs --mutate)"
    else
        grep -E '^MISSED' "$STATE/mutate-$o.log" | sed 's/^/    /'
        bad "$o: $(tail -n 1 "$STATE/mutate-$o.log" | sed 's/^[^:]*: //') (policy.mjs --mutate; every one must be)"
    fi
done

# ---- 4. podman kube play -----------------------------------------------------
if [[ ${CRM_K8S_PLAY:-1} == 0 ]]; then
    echo "k8s: podman kube play skipped (CRM_K8S_PLAY=0)"
    exit 0
fi
if [[ ! -s $STATE/dev.yaml ]]; then
    bad "podman kube play of the dev overlay (it did not render)"
    exit 1
fi
for tool in podman openssl curl nsenter; do
    command -v "$tool" >/dev/null 2>&1 || {
        bad "podman kube play: $tool is missing (make deps installs it)"
        exit 1
    }
done

# The images the container suite builds, built the same way when missing.
build() { # build FILE IMAGE [ARGS...]
    local file=$1 image=$2
    shift 2
    podman build --network=host -f "containers/$file" --build-arg "BASE_IMAGE=$BASE" \
        -t "$image" "$@" . >"$STATE/build-${image##*/}.log" 2>&1
}
have() { podman image exists "$1"; }
missing=0
for img in "${SERVICES[@]/#/crm-}" crm-nginx crm-mariadb; do
    have "localhost/$img:$TAG" || missing=1
done
if ((missing)); then
    started=$(date +%s)
    if ! have "$BASE" && ! containers/base-image.sh "$BASE" >"$STATE/base.log" 2>&1; then
        tail -n 20 "$STATE/base.log"
        bad "local base image $BASE"
        exit 1
    fi
    for svc in "${SERVICES[@]}"; do
        have "localhost/crm-$svc:$TAG" ||
            check "image localhost/crm-$svc:$TAG builds" \
                build service.Containerfile "localhost/crm-$svc:$TAG" --build-arg "SERVICE=$svc"
    done
    have "localhost/crm-nginx:$TAG" ||
        check "image localhost/crm-nginx:$TAG builds" build nginx.Containerfile "localhost/crm-nginx:$TAG"
    have "localhost/crm-mariadb:$TAG" ||
        check "image localhost/crm-mariadb:$TAG builds" build mariadb.Containerfile "localhost/crm-mariadb:$TAG"
    echo "k8s: images built in $(($(date +%s) - started)) s"
    ((failed == 0)) || exit 1
fi

# Test values of the Secrets the manifests reference (random, made now,
# never committed): VALUES/<secret>/<key>, from containers/secrets.sh.
VALUES=$STATE/values
containers/secrets.sh "$STATE/secrets" >/dev/null
put() { # put SECRET KEY FILE
    mkdir -p "$VALUES/$1"
    cp "$STATE/secrets/$3" "$VALUES/$1/$2"
}
for svc in "${SERVICES[@]}"; do
    put "crm-db-$svc" password "${svc}_db"
    put "crm-db-$svc" migrate-password "${svc}_migrate"
done
put crm-event-key key event_key
put crm-jwt public.pem jwt_public
put crm-jwt signing.pem jwt_signing
put crm-tls tls.crt tls_cert
put crm-tls tls.key tls_key
put crm-mysql-root password db_root
# MariaDB reads them through bind mounts as its own user.
chmod 0755 "$VALUES"/*
chmod 0644 "$VALUES"/*/*

podman network create "$NETWORK" >/dev/null || {
    bad "podman network $NETWORK"
    exit 1
}

# The Deployments, adapted where Podman 4.3 needs it (play.mjs says how
# and why), their secrets, and the ConfigMaps' files.
if ! node "$HERE/play.mjs" "$STATE/dev.yaml" "$STATE/play" "$VALUES" "$TAG" >"$STATE/play.list" 2>>"$STATE/checks.log"; then
    tail -n 5 "$STATE/checks.log" | sed 's/^/    /'
    bad "play.mjs turns the dev Deployments into files for podman kube play"
    exit 1
fi

# The database: the test MariaDB image as `mysql` in the network, set up by
# the dev overlay's own initdb script and grants.sql (its ConfigMap
# mysql-initdb), with the Secrets mounted where the StatefulSet mounts them.
INITDB=$STATE/play/configmaps/mysql-initdb
db_args=(-e MYSQL_ROOT_PASSWORD_FILE=/run/secrets/crm-mysql-root/password)
for d in "$VALUES"/crm-mysql-root "$VALUES"/crm-db-*; do
    db_args+=(-v "$d:/run/secrets/$(basename "$d"):ro")
done
db_up() {
    [[ -s $INITDB/10-crm-schemas.sh && -s $INITDB/grants.sql ]] || {
        echo "no ConfigMap mysql-initdb with 10-crm-schemas.sh and grants.sql in the dev rendering"
        return 1
    }
    podman run -d --name "$DB" --network "$NETWORK" --network-alias mysql "${db_args[@]}" \
        -v "$INITDB/10-crm-schemas.sh:/docker-entrypoint-initdb.d/10-crm-schemas.sh:ro" \
        -v "$INITDB/grants.sql:/crm/grants.sql:ro" "localhost/crm-mariadb:$TAG" || return 1
    # Ready once every service's account logs in over TCP (initdb done,
    # the server restarted on the network).
    local i svc n
    for i in $(seq 1 90); do
        n=0
        for svc in "${SERVICES[@]}"; do
            podman exec -e "MYSQL_PWD=$(cat "$VALUES/crm-db-$svc/password")" "$DB" \
                mariadb -h 127.0.0.1 -u "crm_$svc" -e 'SELECT 1' "crm_$svc" >/dev/null 2>&1 && n=$((n + 1))
        done
        if ((n == ${#SERVICES[@]})); then
            echo "database ready after $i s"
            return 0
        fi
        sleep 1
    done
    podman logs "$DB" 2>&1 | tail -n 20
    return 1
}
started=$(date +%s)
if ! db_up >>"$STATE/checks.log" 2>&1; then
    tail -n 20 "$STATE/checks.log" | sed 's/^/    /'
    bad "MariaDB as mysql, set up by the dev overlay's initdb script (ConfigMap mysql-initdb)"
    exit 1
fi
ok "MariaDB as mysql, set up by the dev overlay's initdb script (ConfigMap mysql-initdb) ($(($(date +%s) - started)) s)"

secrets_ok=1
for f in "$STATE"/play/secrets/*.yaml; do
    podman secret create "$(basename "$f" .yaml)" "$f" >/dev/null 2>>"$STATE/checks.log" || secrets_ok=0
done
((secrets_ok)) || bad "podman secrets for the Secrets the pods mount"

# One `podman kube play` per Deployment, each ready before the next is
# played, the services first (NGINX resolves their names when it starts).
# One at a time because a pod joining the network briefly takes its DNS
# away from the pods already there (Podman 4.3 reloads aardvark-dns): a
# service resolving `mysql` just then waits out the resolver's timeouts and
# turns ready a minute late. Once ready, it holds its connections. Each pod
# gets the names of the Services that select it (nginx: nginx and
# nginx-internal).
#
# Readiness is tested with the requests of the readiness probes (Podman
# 4.3 runs no readiness probe): a service's is GET /readyz on 9100 (`crm
# health` asks exactly that); NGINX's is GET https://:8443/, sent from
# inside its pod's network namespace.
declare -A container_of=() ready_after=()
play() { # play NAME FILE ALIASES (comma-separated)
    timeout 180 podman kube play --network "$NETWORK:alias=${3//,/,alias=}" "$2"
}
in_pod() { # in_pod CONTAINER COMMAND...: run a host command in the pod's network
    local pid
    pid=$(podman inspect --format '{{.State.Pid}}' "$1" 2>/dev/null) || return 1
    [[ $pid != 0 ]] || return 1
    shift
    nsenter --target "$pid" --net "$@"
}
ready() { # ready NAME
    local ctr=${container_of[$1]}
    if [[ $1 == nginx ]]; then
        in_pod "$ctr" curl -fsSk -o /dev/null --max-time 3 https://127.0.0.1:8443/
    else
        podman exec "$ctr" /usr/local/bin/crm health >/dev/null 2>&1
    fi
}
play_ready() { # play_ready NAME FILE CONTAINER ALIASES
    local name=$1 t0 deadline
    container_of[$name]=$name-pod-0-$3
    t0=$(date +%s)
    if ! play "$name" "$2" "$4" >>"$STATE/checks.log" 2>&1; then
        tail -n 3 "$STATE/checks.log" | sed 's/^/    /'
        bad "podman kube play: Deployment $name starts"
        return
    fi
    ok "podman kube play: Deployment $name starts$([[ $name == nginx ]] || echo " (init container migrate done)")"
    deadline=$((t0 + READY_SECONDS))
    until ready "$name"; do
        if (($(date +%s) >= deadline)); then
            podman logs --tail 15 "${container_of[$name]}" 2>&1 | cut -c1-300 | sed 's/^/    /'
            bad "podman kube play: $name passes its readiness probe's request within $READY_SECONDS s"
            return
        fi
        sleep 1
    done
    ready_after[$name]=$(($(date +%s) - t0))
    ok "podman kube play: $name passes its readiness probe's request (${ready_after[$name]} s after its play)"
}
while read -r name file ctr aliases; do
    [[ $name == nginx ]] || play_ready "$name" "$file" "$ctr" "$aliases"
done <"$STATE/play.list"
while read -r name file ctr aliases; do
    [[ $name == nginx ]] && play_ready "$name" "$file" "$ctr" "$aliases"
done <"$STATE/play.list"

# Podman applied the containers' securityContext, and the images live with
# it: a read-only root, a non-root user, no capability at all.
confined() { # confined CONTAINER
    local ro user caps
    ro=$(podman inspect --format '{{.HostConfig.ReadonlyRootfs}}' "$1") || return 1
    user=$(podman exec "$1" id -u) || return 1
    caps=$(podman exec "$1" grep -E '^CapEff:' /proc/1/status | awk '{ print $2 }')
    echo "$1: read-only $ro, uid $user, CapEff $caps"
    [[ $ro == true && $user != 0 && $caps =~ ^0+$ ]]
}
for name in $(printf '%s\n' "${!ready_after[@]}" | sort); do
    check "podman kube play: $name runs read-only, as uid $(podman exec "${container_of[$name]}" id -u 2>/dev/null), without capabilities" \
        confined "${container_of[$name]}"
done

# Through NGINX to each service, by the Service names its upstreams use.
route() { # route PATH STATUS
    local code
    code=$(in_pod "${container_of[nginx]}" curl -sk -o /dev/null -w '%{http_code}' --max-time 5 \
        "https://127.0.0.1:8443$1")
    echo "GET $1 -> $code"
    [[ $code == "$2" ]]
}
if [[ -n ${ready_after[nginx]:-} ]]; then
    for svc in "${SERVICES[@]}"; do
        case $svc in
        identity) check "podman kube play: NGINX reaches identity (GET /api/v1/auth/me -> 401)" route /api/v1/auth/me 401 ;;
        *) check "podman kube play: NGINX reaches $svc (GET /api/v1/$svc/ping -> 200)" route "/api/v1/$svc/ping" 200 ;;
        esac
    done
fi
