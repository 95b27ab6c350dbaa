#!/usr/bin/env bash
# Build the images and run the container stack (`make images`, `make up`,
# `make down`) with whichever engine is here: podman (and podman-compose),
# else docker (and its compose plugin).
#
#   scripts/containers.sh images     build localhost/crm-{customers,sales,marketing,identity,nginx}
#   scripts/containers.sh up         secrets (containers/secrets.sh), then compose up -d
#   scripts/containers.sh down       compose down (the database volume stays)
#
# The compose project is COMPOSE_PROJECT_NAME (crm).
#
# Environment: CRM_BASE_IMAGE (debian:bookworm-slim; with no registry in
# reach, build a local one with containers/base-image.sh and name it here),
# CRM_IMAGE_TAG (dev), CRM_CONTAINER_ENGINE (podman or docker), and the
# compose settings of containers/compose.yaml. With podman and no
# CONTAINERS_CONF of the caller's, containers/podman.conf is used (runc and
# ulimits that work on the project's machines).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$REPO"

SERVICES=(customers sales marketing identity)
TAG=${CRM_IMAGE_TAG:-dev}
BASE=${CRM_BASE_IMAGE:-debian:bookworm-slim}

if [[ -n ${CRM_CONTAINER_ENGINE:-} ]]; then
    ENGINE=$CRM_CONTAINER_ENGINE
elif command -v podman >/dev/null 2>&1; then
    ENGINE=podman
elif command -v docker >/dev/null 2>&1; then
    ENGINE=docker
else
    echo "containers: neither podman nor docker is installed (make deps installs podman)" >&2
    exit 1
fi
PROJECT=${COMPOSE_PROJECT_NAME:-crm}
if [[ $ENGINE == podman ]]; then
    export CONTAINERS_CONF=${CONTAINERS_CONF:-$REPO/containers/podman.conf}
    COMPOSE=(podman-compose -p "$PROJECT")
    BUILD_NET=(--network=host)
else
    COMPOSE=(docker compose -p "$PROJECT")
    BUILD_NET=()
fi

build() {
    local file=$1 image=$2
    shift 2
    echo "containers: building $image"
    "$ENGINE" build "${BUILD_NET[@]}" -q -f "containers/$file" --build-arg "BASE_IMAGE=$BASE" \
        -t "$image" "$@" . >/dev/null
}

cmd_images() {
    local svc
    for svc in "${SERVICES[@]}"; do
        build service.Containerfile "localhost/crm-$svc:$TAG" --build-arg "SERVICE=$svc"
    done
    build nginx.Containerfile "localhost/crm-nginx:$TAG"
}

cmd_up() {
    containers/secrets.sh "${CRM_SECRETS:-containers/secrets}"
    (cd containers && "${COMPOSE[@]}" up -d)
    echo "containers: up; https://${CRM_HTTPS_PUBLISH:-127.0.0.1:8443}/ (first admin:" \
        "${CRM_ADMIN_EMAIL:-admin@crm.example}, password in ${CRM_SECRETS:-containers/secrets}/admin_password)"
}

cmd_down() {
    (cd containers && "${COMPOSE[@]}" down)
    # podman-compose 1.0 leaves the network behind.
    if [[ $ENGINE == podman ]]; then
        podman network rm -f "${PROJECT}_default" >/dev/null 2>&1 || true
    fi
}

case ${1:-} in
images) cmd_images ;;
up) cmd_up ;;
down) cmd_down ;;
*)
    sed -n '2,/^set -e/p' "$0" | grep '^#' >&2
    exit 2
    ;;
esac
