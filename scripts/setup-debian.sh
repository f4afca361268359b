#!/bin/sh
# Installs what touchpointd needs to build and test on Debian 12 (bookworm).
# The one list of Debian packages: the README and .ci/run both call this.
# dpkg-dev (dpkg-shlibdeps), systemd (systemd-analyze, -sysusers, -tmpfiles),
# groff-base, file (CPackDeb) and man-db (systemd-analyze verify resolves
# Documentation=man:) are for building and checking the .deb (test_package);
# chromium for the dashboard's browser test (test_dashboard_browser).
set -eu
PKGS="build-essential cmake pkg-config nats-server libnats-dev python3-prometheus-client
      libzmq3-dev libprotobuf-c-dev protobuf-c-compiler libevent-dev
      libyaml-dev libjansson-dev libsqlite3-dev libsystemd-dev uthash-dev
      libcmocka-dev libcsv-dev libxxhash-dev liblua5.4-dev
      libcurl4-openssl-dev prometheus-alertmanager openssl
      dpkg-dev file man-db systemd groff-base chromium"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086 # word splitting of the package list is intended
$SUDO apt-get install -y -q --no-install-recommends $PKGS
# The dashboard's browser test drives that chromium with playwright-core
# from npm, pinned by tests/e2e/package-lock.json (never a downloaded
# browser). Node.js: the machine's own if it has one (nodesource's brings
# npm; Debian's npm would conflict with it), else Debian's nodejs + npm.
if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
    $SUDO apt-get install -y -q --no-install-recommends nodejs npm
fi
# The browser test must run: without node and npm, setup fails rather than
# leave a test that can only be skipped.
for tool in node npm; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "setup-debian.sh: $tool not found after installing nodejs/npm:" \
             "test_dashboard_browser cannot run (install Node.js >= 18 with npm)" >&2
        exit 1
    fi
done
(cd "$(dirname "$0")/../tests/e2e" && npm ci --no-audit --no-fund)
