#!/bin/sh
# ui-build.sh SRC OUT HEADER - the browser UI as NGINX serves it.
#
# Every file of SRC/assets/ is copied to OUT/assets/ under a name holding
# a hash of its content (style.css -> style.3f2a9c0b1d4e.css), so NGINX can
# let browsers cache it for a year: a changed file is a new name. The
# pages of SRC (*.html) are copied with each "@asset:NAME@" replaced by
# NAME's fingerprinted path, and HEADER gets one C define per asset
# (CRM_ASSET_STYLE_CSS "/assets/style.3f2a9c0b1d4e.css") for the pages
# the services render. The same sources always give the same names, so
# NGINX's image and the services' images agree without sharing a file.
set -eu

src=$1 out=$2 header=$3
mkdir -p "$(dirname "$out")" "$(dirname "$header")"
tmp=$(mktemp -d "$out.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/assets"

sed_script=$tmp/.sed
defs=$tmp/.defs
: >"$sed_script"
: >"$defs"
for f in "$src"/assets/*; do
    name=$(basename "$f")
    base=${name%.*}
    ext=${name##*.}
    hash=$(sha256sum "$f" | cut -c1-12)
    path=/assets/$base.$hash.$ext
    cp "$f" "$tmp$path"
    echo "s|@asset:$name@|$path|g" >>"$sed_script"
    macro=$(printf 'CRM_ASSET_%s_%s' "$base" "$ext" | tr 'a-z.-' 'A-Z__')
    echo "#define $macro \"$path\"" >>"$defs"
done
for f in "$src"/*.html; do
    sed -f "$sed_script" "$f" >"$tmp/$(basename "$f")"
done
if grep -l '@asset:' "$tmp"/*.html >/dev/null 2>&1; then
    echo "ui-build: unknown asset in $(grep -l '@asset:' "$tmp"/*.html)" >&2
    exit 1
fi

{
    echo "/* Made by scripts/ui-build.sh from $src/assets: do not edit. */"
    echo "#ifndef CRM_ASSETS_H"
    echo "#define CRM_ASSETS_H"
    cat "$defs"
    echo "#endif"
} >"$tmp/.header"
mv "$tmp/.header" "$header"
rm -f "$sed_script" "$defs"
rm -rf "$out"
mv "$tmp" "$out"
trap - EXIT
