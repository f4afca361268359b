#!/bin/sh
# Builds the .deb with CPack in BUILD_DIR and proves it is installable as a
# service, without installing it: the file list, the conffile, the maintainer
# scripts, the packaged config accepted by the packaged daemon, the man pages,
# the sysusers/tmpfiles entries, the unit's hardening score (<= 2.0) and
# `systemd-analyze verify`. Works as root (CI) and as a normal user: the
# package is unpacked with `dpkg -x` into a scratch root under mktemp -d.
#
#   scripts/test-package.sh BUILD_DIR        (ctest -R test_package)
set -eu

MAX_EXPOSURE=2.0

if [ $# -ne 1 ] || [ ! -d "$1" ]; then
    echo "usage: $0 BUILD_DIR" >&2
    exit 2
fi
BUILD=$(cd "$1" && pwd)
SRC=$(cd "$(dirname "$0")/.." && pwd)

fail() {
    echo "FAIL: $*" >&2
    exit 1
}
ok() {
    echo "ok: $*"
}
for tool in cpack dpkg-deb dpkg systemd-analyze groff; do
    command -v "$tool" >/dev/null 2>&1 || fail "$tool not found (scripts/setup-debian.sh installs it)"
done

SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/tp-package.XXXXXX")
trap 'rm -rf "$SCRATCH"' EXIT INT TERM
ROOT=$SCRATCH/root

# --- build the package -------------------------------------------------------
# A private output directory, so a concurrent cpack or an old .deb in BUILD
# cannot be mistaken for this one.
if ! (cd "$BUILD" && cpack -G DEB -B "$SCRATCH/out") >"$SCRATCH/cpack.log" 2>&1; then
    cat "$SCRATCH/cpack.log" >&2
    fail "cpack -G DEB"
fi
set -- "$SCRATCH"/out/touchpointd_*.deb
if [ $# -ne 1 ] || [ ! -f "$1" ]; then
    fail "expected one touchpointd_*.deb, found: $*"
fi
DEB=$1
ok "cpack -G DEB built $(basename "$DEB") ($(wc -c <"$DEB") bytes)"

# --- contents ------------------------------------------------------------------
dpkg-deb -c "$DEB" | awk '{print $6}' | sed 's|^\./|/|' >"$SCRATCH/contents"
expect="/usr/bin/touchpointd /usr/bin/tp-pub /usr/bin/tp-tail
        /usr/lib/systemd/system/touchpointd.service
        /usr/lib/systemd/system/touchpointd@.service
        /usr/lib/sysusers.d/touchpointd.conf
        /usr/lib/tmpfiles.d/touchpointd.conf
        /usr/share/man/man8/touchpointd.8.gz
        /usr/share/man/man5/touchpointd.yaml.5.gz
        /usr/share/man/man1/tp-pub.1.gz
        /usr/share/man/man1/tp-tail.1.gz
        /etc/touchpointd/touchpointd.yaml
        /usr/share/touchpointd/mappings/veeva_calls.yaml
        /usr/share/touchpointd/examples/veeva_calls.csv
        /usr/share/touchpointd/dashboard/index.html
        /usr/share/touchpointd/dashboard/app.js
        /usr/share/touchpointd/dashboard/style.css
        /usr/share/touchpointd/examples/grafana-touchpointd.json"
for extra in tp-keygen tp-stat; do      # shipped once those targets exist
    if [ -x "$BUILD/$extra" ]; then
        expect="$expect /usr/bin/$extra"
    fi
done
for f in $expect; do
    grep -qx "$f" "$SCRATCH/contents" || fail "$f is not in the package (dpkg-deb -c)"
done
ok "dpkg-deb -c lists $(echo "$expect" | wc -w) expected files: binaries, unit, sysusers, tmpfiles, man pages, config, dashboard"

# --- control: conffiles, maintainer scripts, dependencies -------------------------
dpkg-deb -e "$DEB" "$SCRATCH/DEBIAN"
grep -qx /etc/touchpointd/touchpointd.yaml "$SCRATCH/DEBIAN/conffiles" \
    || fail "/etc/touchpointd/touchpointd.yaml is not a conffile"
ok "conffiles: /etc/touchpointd/touchpointd.yaml"
for s in postinst prerm postrm; do
    [ -x "$SCRATCH/DEBIAN/$s" ] || fail "maintainer script $s missing or not executable"
    sh -n "$SCRATCH/DEBIAN/$s" || fail "maintainer script $s: syntax error"
done
grep -q systemd-sysusers "$SCRATCH/DEBIAN/postinst" || fail "postinst does not run systemd-sysusers"
grep -q systemd-tmpfiles "$SCRATCH/DEBIAN/postinst" || fail "postinst does not run systemd-tmpfiles"
ok "postinst, prerm, postrm executable and parse (sh -n)"
depends=$(dpkg-deb -f "$DEB" Depends)
echo "$depends" | grep -q libzmq5 || fail "Depends lacks libzmq5 (dpkg-shlibdeps): '$depends'"
[ "$(dpkg-deb -f "$DEB" Package)" = touchpointd ] || fail "Package is not touchpointd"
[ "$(dpkg-deb -f "$DEB" Section)" = net ] || fail "Section is not net"
ok "control: Package touchpointd $(dpkg-deb -f "$DEB" Version), Section net, Depends: $depends"

# --- unpack; the packaged daemon accepts the packaged config -------------------------
dpkg -x "$DEB" "$ROOT"
CONF=$ROOT/etc/touchpointd/touchpointd.yaml
grep -q '^state_dir: /var/lib/touchpointd ' "$CONF" || fail "packaged config: state_dir is not /var/lib/touchpointd"
"$ROOT/usr/bin/touchpointd" --check-config --config "$CONF" >"$SCRATCH/check.log" 2>&1 \
    || { cat "$SCRATCH/check.log" >&2; fail "touchpointd --check-config on the packaged config"; }
ok "dpkg -x; $(sed "s|$ROOT||" "$SCRATCH/check.log") (packaged touchpointd --check-config)"
SHARE=$ROOT/usr/share/touchpointd
"$ROOT/usr/bin/tp-pub" --dry-run --map "$SHARE/mappings/veeva_calls.yaml" \
    "$SHARE/examples/veeva_calls.csv" >"$SCRATCH/mapped.jsonl" 2>"$SCRATCH/map.log" \
    || { cat "$SCRATCH/map.log" >&2; fail "packaged tp-pub --map on the packaged Veeva example"; }
ok "packaged tp-pub --map veeva_calls.yaml maps the packaged example: $(wc -l <"$SCRATCH/mapped.jsonl") events"
for f in index.html app.js style.css; do   # the page as written: no build step in between
    cmp -s "$SHARE/dashboard/$f" "$SRC/web/dashboard/$f" || fail "packaged dashboard/$f differs from web/dashboard/$f"
done
ok "the packaged dashboard page is web/dashboard as is"
version=$("$ROOT/usr/bin/touchpointd" --version)
[ "$version" = "touchpointd $(dpkg-deb -f "$DEB" Version)" ] || fail "'$version' does not match the package version"
ok "$version matches the package version"

# --- man pages render without warnings -----------------------------------------------
for page in "$ROOT"/usr/share/man/man*/*.gz; do
    warnings=$(gzip -dc "$page" | groff -man -Tutf8 -ww -z 2>&1) || fail "groff failed on $page"
    [ -z "$warnings" ] || fail "groff warnings in ${page#"$ROOT"}: $warnings"
done
ok "man pages render without groff warnings (-man -ww)"

# --- sysusers and tmpfiles --------------------------------------------------------------
if command -v systemd-sysusers >/dev/null 2>&1; then
    mkdir -p "$ROOT/etc"
    if [ "$(id -u)" -eq 0 ]; then
        systemd-sysusers --root="$ROOT" touchpointd.conf 2>"$SCRATCH/sysusers.log" \
            || { cat "$SCRATCH/sysusers.log" >&2; fail "systemd-sysusers"; }
        grep -q '^touchpointd:x:[0-9]*:[0-9]*:.*:/var/lib/touchpointd:/usr/sbin/nologin$' "$ROOT/etc/passwd" \
            || fail "systemd-sysusers did not create the user touchpointd"
        systemd-tmpfiles --root="$ROOT" --create touchpointd.conf \
            || fail "systemd-tmpfiles --create"
        uid=$(awk -F: '$1 == "touchpointd" {print $3}' "$ROOT/etc/passwd")
        gid=$(awk -F: '$1 == "touchpointd" {print $3}' "$ROOT/etc/group")
        [ "$(stat -c '%a %u %g' "$ROOT/etc/touchpointd/curve")" = "750 0 $gid" ] \
            || fail "/etc/touchpointd/curve is $(stat -c '%a %u %g' "$ROOT/etc/touchpointd/curve"), want 750 0 $gid"
        [ "$(stat -c '%a %u %g' "$ROOT/var/lib/touchpointd")" = "750 $uid $gid" ] \
            || fail "/var/lib/touchpointd is $(stat -c '%a %u %g' "$ROOT/var/lib/touchpointd"), want 750 $uid $gid"
        ok "systemd-sysusers and systemd-tmpfiles --create in the scratch root: user touchpointd, curve 0750 root:touchpointd, state 0750 touchpointd"
    else
        systemd-sysusers --root="$ROOT" --dry-run touchpointd.conf 2>"$SCRATCH/sysusers.log" \
            || { cat "$SCRATCH/sysusers.log" >&2; fail "systemd-sysusers --dry-run"; }
        grep -q "user 'touchpointd'" "$SCRATCH/sysusers.log" || fail "systemd-sysusers would not create touchpointd"
        ok "systemd-sysusers --dry-run would create touchpointd (tmpfiles needs root: skipped)"
    fi
else
    [ -z "${TP_TEST_REQUIRE_ALL:-}" ] || fail "systemd-sysusers not found and TP_TEST_REQUIRE_ALL is set"
    echo "skip: systemd-sysusers not found (sysusers/tmpfiles not checked)"
fi

# --- hardening score -----------------------------------------------------------------
UNIT=$ROOT/usr/lib/systemd/system/touchpointd.service
systemd-analyze security --offline=true "$UNIT" >"$SCRATCH/security.log" 2>&1 || true
line=$(grep 'Overall exposure level' "$SCRATCH/security.log") \
    || { cat "$SCRATCH/security.log" >&2; fail "systemd-analyze security printed no score"; }
score=$(echo "$line" | sed 's/.*: \([0-9.]*\) .*/\1/')
grep '✗' "$SCRATCH/security.log" | sed 's/  */ /g; s/^/    /'
awk -v s="$score" -v max="$MAX_EXPOSURE" 'BEGIN { exit !(s + 0 <= max + 0) }' \
    || fail "systemd-analyze security: exposure $score is above $MAX_EXPOSURE"
ok "systemd-analyze security --offline=true: $(echo "$line" | sed 's/.*: //') (at most $MAX_EXPOSURE)"

# --- systemd-analyze verify ----------------------------------------------------------
# verify checks that the Exec*= binaries exist. systemd 252's --root= also
# looks for /bin/kill and sysinit.target inside the root, so verify a copy of
# the packaged unit whose /usr/bin paths point into the scratch root, with
# MANPATH set so Documentation=man:... resolves to the packaged pages.
mkdir "$SCRATCH/verify"
sed "s|=/usr/bin/|=$ROOT/usr/bin/|" "$UNIT" >"$SCRATCH/verify/touchpointd.service"
grep -q "^ExecStart=$ROOT/usr/bin/touchpointd " "$SCRATCH/verify/touchpointd.service" \
    || fail "ExecStart= does not run /usr/bin/touchpointd"
if ! MANPATH=$ROOT/usr/share/man systemd-analyze verify "$SCRATCH/verify/touchpointd.service" \
        >"$SCRATCH/verify.log" 2>&1 || [ -s "$SCRATCH/verify.log" ]; then
    cat "$SCRATCH/verify.log" >&2
    fail "systemd-analyze verify"
fi
ok "systemd-analyze verify: no warnings (unit with ExecStart paths in the scratch root)"

# The template for N instances (JetStream lease mode), as instance "a".
sed "s|=/usr/bin/|=$ROOT/usr/bin/|" "$ROOT/usr/lib/systemd/system/touchpointd@.service" \
    >"$SCRATCH/verify/touchpointd@a.service"
grep -q "^ExecStart=$ROOT/usr/bin/touchpointd --config /etc/touchpointd/%i.yaml" \
    "$SCRATCH/verify/touchpointd@a.service" || fail "touchpointd@.service does not read /etc/touchpointd/%i.yaml"
if ! MANPATH=$ROOT/usr/share/man systemd-analyze verify "$SCRATCH/verify/touchpointd@a.service" \
        >"$SCRATCH/verify@.log" 2>&1 || [ -s "$SCRATCH/verify@.log" ]; then
    cat "$SCRATCH/verify@.log" >&2
    fail "systemd-analyze verify touchpointd@a.service"
fi
ok "systemd-analyze verify touchpointd@a.service: no warnings (the template for N instances)"

echo "PASS: $(basename "$DEB")"
