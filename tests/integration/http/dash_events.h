/* dash_events — what the dashboard tests (test_dash, test_dash_stream)
 * send the daemon: the same clock, calls and dashboard switch, so both
 * read the same KPIs and alerts off the same input. */
#pragma once

#include <stdint.h>

#include "tp_testmsg.h"

#define T0        1767225600000LL
#define H         3600000LL
#define SUBMITTED TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_SUBMITTED
#define ALL       (TP_FIELD_PRODUCTS | TP_FIELD_TOPICS | TP_FIELD_NOTES | TP_FIELD_NEXT_STEP)
#define DASH_ON   "dashboard: { enabled: true }"

/* A call to HCP-P submitted by source crm-eu (its `seq`-th event), with
 * `fields` and a territory. */
static inline tp_test_call_t tp_dash_call(const char *id, uint64_t seq, unsigned fields) {
    return (tp_test_call_t){ .event_id = id,
                             .source = "crm-eu",
                             .sequence = seq,
                             .at_ms = T0 + 2 * H,
                             .call_id = id,
                             .hcp_id = "HCP-P",
                             .status = SUBMITTED,
                             .call_at_ms = T0 + H,
                             .fields = fields | TP_FIELD_TERRITORY };
}
