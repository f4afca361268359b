#!/bin/sh
# Runs touchpointd on its embedded default config (loopback: events in on
# 7601, alerts out on 7602, reliable input 7603, replay 7604, HTTP 7605) and replays
# examples/demo.jsonl into it, so alerts print on screen as JSON lines.
# Ctrl-C stops the daemon. Run from the repository root after building into
# ./build (see README). With --dashboard the live dashboard is on too:
# http://127.0.0.1:7605/dashboard/ (docs/http-api.md, "Dashboard").
#
# The daemon keeps its state (journal, event log) in ./var/touchpointd of
# its working directory; the demo runs in a fresh temporary directory so
# every run starts empty and shows the same alerts.
set -eu
ROOT=$(pwd)
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
DEMO_DIR=$(mktemp -d "${TMPDIR:-/tmp}/touchpointd-demo.XXXXXX")
cd "$DEMO_DIR"
echo "touchpointd demo: state in $DEMO_DIR/var/touchpointd" >&2
# tp-pub waits (up to --wait-ms) for the daemon's subscription before it
# sends, so starting it first is not a race.
"$BUILD/tp-pub" --wait-ms 10000 "$ROOT/examples/demo.jsonl" &
if [ "${1:-}" = "--dashboard" ]; then
    # The built-in defaults plus the dashboard; served from the sources'
    # web/dashboard when nothing is installed.
    printf 'http: { dashboard: { enabled: true } }\n' >touchpointd.yaml
    echo "touchpointd demo: dashboard on http://127.0.0.1:7605/dashboard/" >&2
    exec "$BUILD/touchpointd" --config touchpointd.yaml --print-alerts
fi
exec "$BUILD/touchpointd" --print-alerts
