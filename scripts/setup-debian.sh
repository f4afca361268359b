#!/bin/sh
# Installs what touchpointd needs to build and test on Debian 12 (bookworm).
# The one list of Debian packages: the README and .ci/run both call this.
# dpkg-dev (dpkg-shlibdeps), systemd (systemd-analyze, -sysusers, -tmpfiles)
# and groff-base are for building and checking the .deb (test_package).
set -eu
PKGS="build-essential cmake pkg-config nats-server libnats-dev python3-prometheus-client
      libzmq3-dev libprotobuf-c-dev protobuf-c-compiler libevent-dev
      libyaml-dev libjansson-dev libsqlite3-dev libsystemd-dev uthash-dev
      libcmocka-dev libcsv-dev libxxhash-dev
      dpkg-dev systemd groff-base"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086 # word splitting of the package list is intended
$SUDO apt-get install -y -q --no-install-recommends $PKGS
