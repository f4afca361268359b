#!/bin/sh
# Refuses C sources that differ from what clang-format (the repo's
# .clang-format, Debian's clang-format 14) makes of them, and names each with
# the command that fixes it. CI runs it on every tracked .c/.h file; with
# arguments it checks just those files (e.g. the ones a change touches:
#   scripts/check-format.sh $(git diff --name-only main -- '*.c' '*.h')).
set -eu
cd "$(dirname "$0")/.."
CLANG_FORMAT=${CLANG_FORMAT:-clang-format}
command -v "$CLANG_FORMAT" >/dev/null 2>&1 || { echo "check-format: $CLANG_FORMAT not found (apt-get install clang-format)" >&2; exit 1; }
if [ "$#" -eq 0 ]; then
    set -- $(git ls-files '*.c' '*.h')
fi
bad=0
for f in "$@"; do
    [ -f "$f" ] || continue
    if ! "$CLANG_FORMAT" --style=file "$f" | cmp -s "$f" -; then
        echo "not formatted: $f   (fix: $CLANG_FORMAT -i $f)" >&2
        bad=$((bad + 1))
    fi
done
if [ "$bad" -ne 0 ]; then
    echo "check-format: $bad file(s) differ from .clang-format" >&2
    exit 1
fi
echo "check-format: $# file(s) formatted"
