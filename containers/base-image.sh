#!/usr/bin/env bash
# Build a local stand-in for debian:bookworm-slim when no image registry is
# reachable (as on the project's machines): debootstrap a minimal bookworm,
# trim it the way the slim image is trimmed (no documentation, manuals,
# locales, package lists or caches, and a dpkg rule that keeps later
# installs from bringing them back), and import it as IMAGE.
#
#   containers/base-image.sh [IMAGE]      (default localhost/debian:bookworm-slim)
#
# Needs root, debootstrap and podman (CONTAINERS_CONF=containers/podman.conf
# here). Does nothing when IMAGE exists already. About a minute.
set -euo pipefail

IMAGE=${1:-localhost/debian:bookworm-slim}
ENGINE=${CRM_CONTAINER_ENGINE:-podman}

if "$ENGINE" image exists "$IMAGE" 2>/dev/null; then
    exit 0
fi
dir=$(mktemp -d "${TMPDIR:-/tmp}/crm-base.XXXXXX")
trap 'rm -rf "$dir"' EXIT
echo "base-image: debootstrap bookworm (minbase) for $IMAGE"
debootstrap --variant=minbase bookworm "$dir/root" >"$dir/debootstrap.log" 2>&1 || {
    tail -n 20 "$dir/debootstrap.log" >&2
    echo "base-image: debootstrap failed" >&2
    exit 1
}
root=$dir/root
cat >"$root/etc/dpkg/dpkg.cfg.d/slim" <<'CFG'
# As in the slim image: no documentation, manuals or translations.
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
CFG
find "$root/usr/share/doc" -mindepth 2 ! -name copyright -delete 2>/dev/null || true
find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
rm -rf "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/lintian \
    "$root"/var/cache/apt/* "$root"/var/lib/apt/lists/* "$root"/var/log/*.log \
    "$root"/var/log/apt/*
find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
tar -C "$root" -c . | "$ENGINE" import - "$IMAGE" >/dev/null
echo "base-image: $IMAGE ($("$ENGINE" image inspect --format '{{.Size}}' "$IMAGE") bytes)"
