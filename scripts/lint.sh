#!/usr/bin/env bash
# Static checks (`make lint`): clang-format (the committed .clang-format)
# and cppcheck on the C sources, bash -n and, when installed, shellcheck on
# the scripts. Exits non-zero on any finding.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$REPO"

rc=0

# Tracked files plus new ones not ignored; without git, whatever is there.
list_files() {
    if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        git ls-files -co --exclude-standard -- "$@"
    else
        local globs=() g
        for g in "$@"; do
            if [[ $g == */* ]]; then globs+=(-o -path "./$g"); else globs+=(-o -name "$g"); fi
        done
        find . -path ./build -prune -o -path ./state -prune -o -type f \( "${globs[@]:1}" \) -print |
            sed 's|^\./||'
    fi
}

mapfile -t c_files < <(list_files '*.c' '*.h' | while IFS= read -r f; do [[ -f $f ]] && echo "$f"; done)

echo "lint: clang-format (${#c_files[@]} files)"
if ((${#c_files[@]})); then
    clang-format --dry-run --Werror "${c_files[@]}" || rc=1
fi

mapfile -t cpp_files < <(printf '%s\n' "${c_files[@]}" | grep -E '^(shared|fcgi|tests)/.*\.c$' || true)
echo "lint: cppcheck (${#cpp_files[@]} files)"
if ((${#cpp_files[@]})); then
    cppcheck --enable=warning,performance,portability --error-exitcode=1 --inline-suppr \
        --std=c11 -q -j "$(nproc 2>/dev/null || echo 2)" -I shared -D_GNU_SOURCE \
        --suppress=missingIncludeSystem "${cpp_files[@]}" || rc=1
fi

mapfile -t sh_files < <(list_files 'scripts/*.sh' 'containers/*.sh' 'containers/initdb/*.sh' 'tests/containers/*.sh' 'tests/k8s/*.sh' 'tests/lib/*.sh' 'k8s/*.sh' 'k8s/overlays/dev/initdb/*.sh' '.ci/run' | while IFS= read -r f; do [[ -f $f ]] && echo "$f"; done)
echo "lint: shell scripts (${#sh_files[@]} files)"
for f in "${sh_files[@]}"; do
    bash -n "$f" || rc=1
done
if command -v shellcheck >/dev/null 2>&1; then
    ((${#sh_files[@]} == 0)) || shellcheck -x "${sh_files[@]}" || rc=1
else
    echo "lint: shellcheck not installed; skipped (apt-get install shellcheck)"
fi

if ((rc)); then
    echo "lint: FAILED"
else
    echo "lint: ok"
fi
exit "$rc"
