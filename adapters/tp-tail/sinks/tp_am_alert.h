/* tp_am_alert — one touchpointd alert (tp-tail's JSON line: the Alert in
 * proto3 JSON) as Prometheus Alertmanager's API v2 wants it (DESIGN.md,
 * "Alertmanager"): labels alertname (= rule), kind, severity (both lower
 * case: "friction", "warning"), each of territory, rep_id, hcp_id,
 * account_id, contract_id, call_id, step that is set, and alert_id;
 * annotations summary, evidence (the evidence map as compact JSON) and
 * detected_at (RFC 3339, UTC); startsAt = the detected time.
 *
 * Called by tp_sink_alertmanager.c for every alert it takes. Pure: no I/O,
 * no logging; JSON through jansson only.
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tp_am_alert {
    char    *alert_id;    /* malloc'd */
    bool     resolved;    /* status RESOLVED */
    uint64_t sequence;    /* 0 when the line has none */
    int64_t  detected_ms; /* detectedAtMs */
    json_t  *am;          /* {labels, annotations, startsAt}, one reference */
};

/* Parses `line` (len bytes) into *ret. 0; -EBADMSG with a reason in `why`
 * when it is not an alert (no alertId, rule or status); -ENOMEM. */
int tp_am_alert_parse(const char *line, size_t len, char *why, size_t whylen,
                      struct tp_am_alert *ret);

/* Frees what tp_am_alert_parse filled in; accepts a zeroed struct. */
void tp_am_alert_clear(struct tp_am_alert *a);

/* RFC 3339 UTC with milliseconds ("2026-01-01T00:00:00.000Z") into buf
 * (at least 32 bytes). */
void tp_am_time(int64_t ms, char *buf, size_t len);
