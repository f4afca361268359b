#!/bin/sh
# bench_nats_gen.sh — the generated stream of the NATS benches, on stdout:
#   bench/bench_nats_gen.sh EVENTS [HCPS]          (HCPS default 200)
# ROUNDS rounds of one event per HCP (kind staggered by HCP, as in
# tests/integration/jetstream/test_nats_cluster.c: calls in every status,
# feedback, contracting), a watermark after each round, a final one a month
# later so every armed deadline fires.
set -eu
EVENTS=${1:?usage: bench_nats_gen.sh EVENTS [HCPS]}
HCPS=${2:-200}
awk -v n="$EVENTS" -v hcps="$HCPS" 'BEGIN {
    t = 1772352000000; step = 600000; seq = 0; wm = 0; k = 0
    full = "\"products\":[\"Cardiozan\"],\"topics\":[\"dosing\"],\"notes\":\"Reviewed.\",\"nextStep\":\"Reprint.\""
    for (r = 0; k < n; r++) {
        for (h = 0; h < hcps && k < n; h++) {
            t += step; k++; kind = (r + h) % 8; g = int((r + h) / 8); id = "C-" h "-" r
            if (kind == 0 || kind == 2 || kind == 3 || kind == 4) {
                st = kind == 0 ? "PLANNED" : kind == 4 ? "SAVED" : "SUBMITTED"
                if (kind == 3) id = "C-" h "-" (r - 1)
                subm = (st == "SUBMITTED") ? sprintf(",\"submittedAtMs\":\"%.0f\"", t) : ""
                data = (kind >= 3) ? "," full : ""
                printf "{\"eventId\":\"e%d\",\"source\":\"crm\",\"sequence\":\"%d\",\"occurredAtMs\":\"%.0f\",\"call\":{\"callId\":\"%s\",\"hcpId\":\"HCP-%d\",\"repId\":\"R-%d\",\"channel\":\"PHONE\",\"status\":\"%s\",\"callAtMs\":\"%.0f\"%s%s}}\n", k, ++seq, t, id, h, h % 5, st, t - 3600000, subm, data
            } else if (kind == 1) {
                printf "{\"eventId\":\"e%d\",\"source\":\"survey\",\"sequence\":\"%d\",\"occurredAtMs\":\"%.0f\",\"feedback\":{\"feedbackId\":\"F-%d-%d\",\"hcpId\":\"HCP-%d\",\"subjectType\":\"general\",\"nps\":%d,\"atMs\":\"%.0f\"}}\n", k, ++seq, t, h, r, h, h % 2 ? 3 : 9, t
            } else {
                step_name = kind == 7 ? "FMV_REVIEW" : "NOMINATION"; state = kind == 6 ? "RETURNED" : "STARTED"
                printf "{\"eventId\":\"e%d\",\"source\":\"contracts\",\"sequence\":\"%d\",\"occurredAtMs\":\"%.0f\",\"contracting\":{\"contractId\":\"K-%d-%d\",\"hcpId\":\"HCP-%d\",\"repId\":\"R-1\",\"contractType\":\"SPEAKER\",\"step\":\"%s\",\"state\":\"%s\",\"ownerId\":\"O-%d\",\"atMs\":\"%.0f\"}}\n", k, ++seq, t, h, g, h, step_name, state, kind, t
            }
        }
        printf "{\"eventId\":\"wm%d\",\"source\":\"export\",\"sequence\":\"%d\",\"occurredAtMs\":\"%.0f\",\"watermark\":{\"nowMs\":\"%.0f\"}}\n", ++wm, wm, t, t
    }
    printf "{\"eventId\":\"wm%d\",\"source\":\"export\",\"sequence\":\"%d\",\"occurredAtMs\":\"%.0f\",\"watermark\":{\"nowMs\":\"%.0f\"}}\n", ++wm, wm, t + 2592000000, t + 2592000000
}'
