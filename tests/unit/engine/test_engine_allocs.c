/* test_engine_allocs — an event that changes no alert allocates nothing.
 *
 * Steady state: a stream of corrections of calls the engine already holds
 * (complete, so nothing fires) and promoter feedback from their HCPs, every
 * rule on and the KPI observer attached, once the dedup window is full.
 * This binary counts the allocations made while the engine handles an event
 * (bench/bench_alloc: link-time wrappers of the allocator); the
 * events are packed before, outside the count. A count, not a time: it
 * holds on any machine.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bench_alloc.h"
#include "tp_kpi.h"
#include "tp_metrics.h"
#include "tp_testengine.h"

#define CALLS    200 /* calls held, corrected again and again */
#define WINDOW   500 /* dedup window: full after the warm-up */
#define WARM     2000
#define MEASURED 4000
#define ALL      (TP_FIELD_PRODUCTS | TP_FIELD_TOPICS | TP_FIELD_NOTES | TP_FIELD_NEXT_STEP)

typedef struct {
    tp_fixture_t *f;
    tp_metrics_t *m;
    tp_kpi_t     *kpi;
} s_env_t;

static int s_setup(void **state) {
    s_env_t *env = calloc(1, sizeof *env);
    env->f = tp_fixture_new("clock: event\nlimits: { dedup_window: 500 }\n");
    assert_int_equal(tp_metrics_new("touchpointd_", &env->m), 0);
    assert_int_equal(tp_kpi_new(env->f->cfg, env->m, &env->kpi), 0);
    tp_engine_set_observer(env->f->engine, tp_kpi_observe, env->kpi);
    *state = env;
    return 0;
}

static int s_teardown(void **state) {
    s_env_t *env = *state;
    tp_fixture_free(env->f);
    tp_kpi_destroy(&env->kpi);
    tp_metrics_destroy(&env->m);
    free(env);
    return 0;
}

/* Event i of the steady stream, packed: even ones correct call i/2 % CALLS
 * (submitted with every field), odd ones are its HCP's promoter feedback
 * preferring the channel used. */
static size_t s_pack(size_t i, const char **topic, uint8_t **ret) {
    char   id[32], call[32], hcp[32], rep[32];
    size_t target = i / 2 % CALLS;
    snprintf(id, sizeof id, "ev-%zu", i);
    snprintf(call, sizeof call, "C-%zu", target);
    snprintf(hcp, sizeof hcp, "HCP-%zu", target);
    snprintf(rep, sizeof rep, "REP-%zu", target % 20);
    int64_t at = TP_T0 + 1000 + (int64_t)i;
    if (i % 2 == 0) {
        *topic = "crm.call";
        return tp_test_pack_call(
            &(tp_test_call_t){ .event_id = id,
                               .sequence = i / 2 + 1,
                               .at_ms = at,
                               .call_id = call,
                               .hcp_id = hcp,
                               .rep_id = rep,
                               .status = TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_SUBMITTED,
                               .call_at_ms = TP_T0 + TP_H,
                               .fields = ALL },
            ret);
    }
    *topic = "crm.feedback";
    return tp_test_pack_feedback(
        &(tp_test_feedback_t){ .event_id = id,
                               .at_ms = at,
                               .hcp_id = hcp,
                               .nps = 10,
                               .effort = -1,
                               .preferred_channel = TOUCHPOINT__V1__CHANNEL__CHANNEL_IN_PERSON },
        ret);
}

/* Handles events [from, to) of the steady stream; the allocations made
 * inside the engine. */
static uint64_t s_run(tp_engine_t *e, size_t from, size_t to) {
    uint64_t before = bench_allocs;
    for (size_t i = from; i < to; i++) {
        const char *topic;
        uint8_t    *buf;
        size_t      len = s_pack(i, &topic, &buf);
        tp_frame_t  frames[2] = { { topic, strlen(topic) }, { buf, len } };
        bench_alloc_counting = true;
        int r = tp_engine_handle(e, frames, 2);
        bench_alloc_counting = false;
        free(buf);
        assert_int_equal(r, TP_ACCEPTED);
    }
    return bench_allocs - before;
}

static void test_steady_no_alert_stream_allocates_nothing(void **state) {
    s_env_t *env = *state;
    /* The warm-up creates the calls, HCP entries and KPI series, and fills
     * the dedup window: allocations, as it should. */
    assert_true(s_run(env->f->engine, 0, WARM) > 0);
    size_t alerts = env->f->got.n;
    assert_int_equal(s_run(env->f->engine, WARM, WARM + MEASURED), 0);
    /* It is a stream that changes no alert. */
    assert_int_equal(env->f->got.n, alerts);
    assert_int_equal(tp_engine_calls(env->f->engine), CALLS);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_steady_no_alert_stream_allocates_nothing, s_setup,
                                        s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
