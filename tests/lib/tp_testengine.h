/* tp_testengine — a rule-test fixture: an engine built from YAML text, in
 * `event` clock mode unless the YAML says otherwise, with a fake wall clock
 * and every alert captured. Send calls, feedback and watermarks; read
 * f->got. No sockets, no sleeping: time moves with the events. */
#pragma once

#include "tp_engine.h"
#include "tp_testmsg.h"

#define TP_T0 1767225600000LL    /* 2026-01-01T00:00:00Z */
#define TP_H  3600000LL
#define TP_D  86400000LL

typedef struct {
    tp_config_t     *cfg;
    tp_engine_t     *engine;
    int64_t          wall_ms;    /* the fake wall clock (clock: wall) */
    tp_test_alerts_t got;
} tp_fixture_t;

/* New fixture; asserts (cmocka) that the YAML parses. */
tp_fixture_t *tp_fixture_new(const char *yaml);
void tp_fixture_free(tp_fixture_t *f);

/* Each returns what tp_engine_handle returns (TP_ACCEPTED, TP_REFUSED,
 * TP_DUPLICATE). */
int tp_fixture_call(tp_fixture_t *f, const tp_test_call_t *c);
int tp_fixture_feedback(tp_fixture_t *f, const tp_test_feedback_t *fb);
int tp_fixture_watermark(tp_fixture_t *f, int64_t now_ms);
int tp_fixture_step(tp_fixture_t *f, const tp_test_step_t *s);

/* Sets the fake wall clock and fires what is due (clock: wall). */
size_t tp_fixture_wall_tick(tp_fixture_t *f, int64_t wall_ms);

/* The i-th captured alert's status (FIRING/RESOLVED), rule and subject id. */
#define TP_FIRING   TOUCHPOINT__V1__ALERT_STATUS__ALERT_STATUS_FIRING
#define TP_RESOLVED TOUCHPOINT__V1__ALERT_STATUS__ALERT_STATUS_RESOLVED
