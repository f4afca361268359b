/* tp_testengine — a rule-test fixture: an engine built from YAML text, in
 * `event` clock mode unless the YAML says otherwise, with a fake wall clock
 * and every alert captured. Send calls, feedback and watermarks; read
 * f->got. No sockets, no sleeping: time moves with the events.
 *
 * Rule tests start from tp_fixture_only(): every rule of the registry off
 * but the one under test, so other rules' alerts never interleave and a new
 * rule needs no edit here. Per-test defaults for calls and steps (the
 * contract, HCP, rep a test is about) go in f->call_defaults and
 * f->step_defaults; TP_CALL / TP_STEP send one event and assert it was
 * accepted; tp_expect*() check captured alerts. */
#pragma once

#include "tp_engine.h"
#include "tp_testmsg.h"

#define TP_T0 1767225600000LL /* 2026-01-01T00:00:00Z */
#define TP_H  3600000LL
#define TP_D  86400000LL

typedef struct {
    tp_config_t     *cfg;
    tp_engine_t     *engine;
    int64_t          wall_ms; /* the fake wall clock (clock: wall) */
    tp_test_alerts_t got;
    tp_test_call_t   call_defaults; /* what a call event leaves 0 / NULL comes from here */
    tp_test_step_t   step_defaults; /* the same for step events */
} tp_fixture_t;

/* New fixture; asserts (cmocka) that the YAML parses. */
tp_fixture_t *tp_fixture_new(const char *yaml);
void          tp_fixture_free(tp_fixture_t *f);

/* Reloads the engine with this YAML (tp_engine_reconfigure) as the daemon
 * does on SIGHUP; asserts that it parses and is taken. */
void tp_fixture_reload(tp_fixture_t *f, const char *yaml);

/* The YAML of "only `rule` on": `head` (top-level keys; NULL means
 * "clock: event\n"), then a rules: section turning off every rule of the
 * registry but `rule`, then `rule: <settings>` when settings (a YAML flow
 * mapping, "{ min_reps: 2 }") is not NULL. Caller frees. */
char *tp_fixture_only_yaml(const char *head, const char *rule, const char *settings);

/* A fixture running only `rule` (see tp_fixture_only_yaml). */
tp_fixture_t *tp_fixture_only(const char *head, const char *rule, const char *settings);

/* Each returns what tp_engine_handle returns (TP_ACCEPTED, TP_REFUSED,
 * TP_DUPLICATE). Calls and steps take f->call_defaults / f->step_defaults
 * for the fields they leave 0 or NULL (booleans: either set). */
int tp_fixture_call(tp_fixture_t *f, const tp_test_call_t *c);
int tp_fixture_feedback(tp_fixture_t *f, const tp_test_feedback_t *fb);
int tp_fixture_watermark(tp_fixture_t *f, int64_t now_ms);
int tp_fixture_step(tp_fixture_t *f, const tp_test_step_t *s);

/* Sends each of fbs[0..n) (at at_ms where it gives no time) and asserts
 * the engine accepted it. */
void tp_fixture_feedbacks(tp_fixture_t *f, int64_t at_ms, const tp_test_feedback_t *fbs, size_t n);

/* A fixture running only `rule` (tp_fixture_only) whose step events
 * default to contract K-1 of HCP-9 with REP-3, of this contract type: the
 * case most friction rule tests are about. */
tp_fixture_t *tp_fixture_case(const char *head, const char *rule, const char *settings,
                              int contract_type);

/* One step event given by position (the rest from f->step_defaults);
 * returns as tp_fixture_step. */
int tp_fixture_step_at(tp_fixture_t *f, const char *event_id, int64_t at_ms, const char *step,
                       int state, const char *owner_id, bool case_closed);

/* Send one event (designated fields of tp_test_call_t / tp_test_step_t)
 * and assert the engine accepted it; TP_WATERMARK moves event time. */
#define TP_CALL(f, ...) \
    assert_int_equal(tp_fixture_call((f), &(tp_test_call_t){ __VA_ARGS__ }), TP_ACCEPTED)
#define TP_STEP(f, ...) \
    assert_int_equal(tp_fixture_step((f), &(tp_test_step_t){ __VA_ARGS__ }), TP_ACCEPTED)
#define TP_WATERMARK(f, now_ms) assert_int_equal(tp_fixture_watermark((f), (now_ms)), TP_ACCEPTED)

/* Event time moves to now_ms (a watermark), after which exactly `count`
 * alerts have been captured in all: the usual "by then, this many" check. */
#define TP_EXPECT_AT(f, now_ms, count)                 \
    do {                                               \
        TP_WATERMARK((f), (now_ms));                   \
        assert_int_equal((f)->got.n, (size_t)(count)); \
    } while (0)

/* A deadline's edge: with event time at `at_ms` exactly n alerts are
 * captured, one millisecond later n + 1 (the one due there). */
void tp_expect_edge(tp_fixture_t *f, int64_t at_ms, size_t n);

/* tp_expect_edge for a wall-clock fixture w and its event-clock twin e:
 * w's next deadline is due_ms, a wall tick there fires nothing and one
 * 250 ms later fires n; then e's event time moves to that same instant. */
void tp_expect_wall_edge(tp_fixture_t *w, tp_fixture_t *e, int64_t due_ms, size_t n);

/* The i-th alert of the wall-clock fixture w was detected at wall_ms, the
 * same alert of the event-clock fixture e at event_ms. */
void tp_expect_detected(const tp_fixture_t *w, const tp_fixture_t *e, size_t i, int64_t wall_ms,
                        int64_t event_ms);

/* Sets the fake wall clock and fires what is due (clock: wall). */
size_t tp_fixture_wall_tick(tp_fixture_t *f, int64_t wall_ms);

/* The i-th captured alert's status (FIRING/RESOLVED), rule and subject id. */
#define TP_FIRING   TOUCHPOINT__V1__ALERT_STATUS__ALERT_STATUS_FIRING
#define TP_RESOLVED TOUCHPOINT__V1__ALERT_STATUS__ALERT_STATUS_RESOLVED

/* The i-th captured alert; asserts there is one, with this status and (if
 * alert_id is not NULL) this alert_id. */
const Touchpoint__V1__Alert *tp_expect(const tp_fixture_t *f, size_t i, int status,
                                       const char *alert_id);

/* The i-th captured alert, published on want->topic (if given) and
 * saying what `want` says (tp_test_alert_diff). */
const Touchpoint__V1__Alert *tp_expect_alert(const tp_fixture_t *f, size_t i,
                                             const tp_test_alert_want_t *want);
#define TP_EXPECT_ALERT(f, i, ...) tp_expect_alert((f), (i), &(tp_test_alert_want_t){ __VA_ARGS__ })

/* The fixture a file's tests share: only `rule` on with `settings` (NULL:
 * its defaults); with contract_type, step events default as in
 * tp_fixture_case; with step, they default to contract K-1 at that step. */
typedef struct {
    const char *rule;
    const char *settings;
    int         contract_type;
    const char *step;
} tp_fixture_spec_t;

tp_fixture_t *tp_fixture_spec(const char *head, const tp_fixture_spec_t *spec);

/* A fixture running only `rule` whose step events default to contract K-1
 * at `step` (tp_fixture_spec with only a step). */
tp_fixture_t *tp_fixture_at_step(const char *head, const char *rule, const char *settings,
                                 const char *step);

/* cmocka setup/teardown keeping a fixture in *state: TP_FIXTURE_TEST(fn,
 * spec) runs fn on tp_fixture_spec(NULL, &spec), freed after the test
 * whether it passed or not. */
int tp_fixture_setup(void **state);
int tp_fixture_teardown(void **state);
#define TP_FIXTURE_TEST(fn, spec)                                                       \
    cmocka_unit_test_prestate_setup_teardown(fn, tp_fixture_setup, tp_fixture_teardown, \
                                             (void *)&(spec))

/* The i-th captured alert is a RESOLVED with evidence resolution=`resolution`. */
const Touchpoint__V1__Alert *tp_expect_resolved(const tp_fixture_t *f, size_t i,
                                                const char *resolution);

/* The captured alert with this id (the first; asserts there is one), or
 * whether there is one. */
const Touchpoint__V1__Alert *tp_fixture_find(const tp_fixture_t *f, const char *alert_id);
bool                         tp_fixture_has(const tp_fixture_t *f, const char *alert_id);

/* The same input in wall and in event clock mode gives the same alerts:
 * both captured n, pairwise the same alert_id, status and evidence count,
 * the same summary if `summary`, and the same value of evidence `key` if
 * not NULL. Only detection times may differ (the caller checks those). */
void tp_expect_same_alerts(const tp_fixture_t *w, const tp_fixture_t *e, size_t n, bool summary,
                           const char *key);

/* The two fixtures a wall-vs-event test compares: the same spec in clock:
 * wall (w) and in clock: event (e); both = { w, e } sends an event to each.
 * TP_TWIN_TEST(fn, spec) runs fn with a tp_twin_t in *state, both freed
 * after the test whether it passed or not. */
typedef struct {
    tp_fixture_t *w, *e;
    tp_fixture_t *both[2];
} tp_twin_t;

int tp_twin_setup(void **state);
int tp_twin_teardown(void **state);
#define TP_TWIN_TEST(fn, spec) \
    cmocka_unit_test_prestate_setup_teardown(fn, tp_twin_setup, tp_twin_teardown, (void *)&(spec))
