#!/bin/sh
# Runs touchpointd on its embedded default config (loopback 7601 in, 7602
# out) and replays examples/demo.jsonl into it, so alerts print on screen as
# JSON lines. Ctrl-C stops the daemon. Run from the repository root after
# building into ./build (see README).
set -eu
BUILD=${BUILD:-build}
# tp-pub waits (up to --wait-ms) for the daemon's subscription before it
# sends, so starting it first is not a race.
"$BUILD/tp-pub" --wait-ms 10000 examples/demo.jsonl &
exec "$BUILD/touchpointd" --print-alerts
