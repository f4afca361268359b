#!/bin/sh
# Installs what touchpointd needs to build and test on Debian 12 (bookworm).
# The one list of Debian packages: the README and .ci/run both call this.
set -eu
# clang and libclang-rt-14-dev (libFuzzer) are for scripts/fuzz.sh only.
PKGS="build-essential cmake pkg-config
      libzmq3-dev libprotobuf-c-dev protobuf-c-compiler libevent-dev
      libyaml-dev libjansson-dev libsqlite3-dev libsystemd-dev uthash-dev
      libcmocka-dev
      clang libclang-rt-14-dev"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086 # word splitting of the package list is intended
$SUDO apt-get install -y -q --no-install-recommends $PKGS
