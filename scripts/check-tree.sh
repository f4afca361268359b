#!/bin/sh
# The tree's two size rules, checked (CI runs it):
#   - no source file over 600 lines (split by job, not by size);
#   - no folder holding more than 20 source files (.c/.h) of its own.
# Names every offender; exit 1 if there is one.
set -eu
cd "$(dirname "$0")/.."
MAX_LINES=600
MAX_FILES=20
bad=0
for f in $(git ls-files '*.c' '*.h' '*.sh' '*.py' '*.mjs' '*.js' '*.css' '*.html'); do
    n=$(wc -l <"$f")
    if [ "$n" -gt "$MAX_LINES" ]; then
        echo "check-tree: $f has $n lines (at most $MAX_LINES)" >&2
        bad=1
    fi
done
for d in $(git ls-files '*.c' '*.h' | sed 's|/[^/]*$||' | sort | uniq -c | awk -v m="$MAX_FILES" '$1 > m { print $2 }'); do
    echo "check-tree: $d holds $(git ls-files "$d/*.c" "$d/*.h" | grep -c "^$d/[^/]*$") source files (at most $MAX_FILES)" >&2
    bad=1
done
[ "$bad" -eq 0 ] && echo "check-tree: every source file <= $MAX_LINES lines, every folder <= $MAX_FILES source files"
exit "$bad"
