/* PLACEHOLDER — being written; replaced entirely by its rule. */
#include "tp_rules.h"

static bool s_enabled(const tp_config_t *cfg) {
    (void)cfg;
    return false;
}

static void s_on_event(void *state, const tp_rule_ctx_t *ctx, const tp_event_t *ev) {
    (void)state; (void)ctx; (void)ev;
}

const tp_rule_t tp_rule_case_stalled = {
    .name = "case_stalled",
    .kind = TOUCHPOINT__V1__ALERT_KIND__ALERT_KIND_FRICTION,
    .enabled = s_enabled,
    .on_event = s_on_event,
};
