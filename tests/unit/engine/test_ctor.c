/* test_ctor — the constructor convention, the same check for every module of
 * core, state, the engine and the outbox: `int tp_x_new(..., tp_x_t **ret)` returns 0 or
 * -ENOMEM, writes *ret only on success and leaks nothing when it fails part
 * way (its destroy accepts the half-built object); `tp_x_destroy(&p)` frees,
 * NULLs p, and is a no-op on NULL and on a NULL p.
 *
 * Failure part way is made real: this binary is linked with --wrap for the
 * allocator (tests/CMakeLists.txt), so the test can fail the 1st, 2nd, ...
 * allocation of a constructor until it succeeds, and counts what is still
 * allocated after each attempt.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tp_arena.h"
#include "tp_cases.h"
#include "tp_dedup.h"
#include "tp_engine.h"
#include "tp_intern.h"
#include "tp_metrics.h"
#include "tp_outbox.h"
#include "tp_seq.h"
#include "tp_state.h"
#include "tp_timers.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void  __real_free(void *p);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);
void  __wrap_free(void *p);

static uint64_t s_allocs;  /* allocations asked for so far */
static uint64_t s_fail_at; /* the allocation number that fails; 0 = none */
static int64_t  s_live;    /* allocated and not freed */

static bool s_fails(void) {
    return ++s_allocs == s_fail_at;
}

void *__wrap_malloc(size_t n) {
    void *p = s_fails() ? NULL : __real_malloc(n);
    s_live += p != NULL;
    return p;
}

void *__wrap_calloc(size_t n, size_t size) {
    void *p = s_fails() ? NULL : __real_calloc(n, size);
    s_live += p != NULL;
    return p;
}

void *__wrap_realloc(void *p, size_t n) {
    if (s_fails())
        return NULL;
    void *q = __real_realloc(p, n);
    s_live += (!p && q) - (p && !q && n == 0);
    return q;
}

char *__wrap_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char  *p = __wrap_malloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}

void __wrap_free(void *p) {
    s_live -= p != NULL;
    __real_free(p);
}

/* Where *ret points before a constructor runs: still there after a failure. */
static max_align_t s_sentinel;

/* Runs `call`, a constructor writing into `p`, with its k-th allocation
 * failing for k = 1, 2, ... until it succeeds; `attempts` gets how many
 * failures there were (so a test can say the paths were really taken). */
#define CHECK_CTOR(type, destroy, call, attempts)             \
    do {                                                      \
        for (int k_ = 1;; k_++) {                             \
            type   *p = (type *)(void *)&s_sentinel;          \
            int64_t live_ = s_live;                           \
            s_fail_at = s_allocs + (uint64_t)k_;              \
            int r_ = (call);                                  \
            s_fail_at = 0;                                    \
            if (r_ == 0) {                                    \
                assert_ptr_not_equal(p, (void *)&s_sentinel); \
                destroy(&p);                                  \
                assert_null(p);                               \
                destroy(&p);                                  \
                destroy(NULL);                                \
                assert_int_equal(s_live, live_);              \
                (attempts) = k_ - 1;                          \
                break;                                        \
            }                                                 \
            assert_int_equal(r_, -ENOMEM);                    \
            assert_ptr_equal(p, (void *)&s_sentinel);         \
            assert_int_equal(s_live, live_);                  \
        }                                                     \
    } while (0)

static void test_core(void **state) {
    (void)state;
    int n;
    CHECK_CTOR(tp_arena_t, tp_arena_destroy, tp_arena_new(64, &p), n);
    assert_int_equal(n, 1);
    CHECK_CTOR(tp_intern_t, tp_intern_destroy, tp_intern_new(&p), n);
    assert_int_equal(n, 1);
    CHECK_CTOR(tp_metrics_t, tp_metrics_destroy, tp_metrics_new("tp_", &p), n);
    assert_int_equal(n, 2); /* the registry, its prefix */
}

static void test_state(void **state) {
    (void)state;
    tp_stats_t st = { 0 };
    int        n;
    CHECK_CTOR(tp_dedup_t, tp_dedup_destroy, tp_dedup_new(8, &p), n);
    assert_int_equal(n, 3); /* the window, its ring, its table */
    CHECK_CTOR(tp_seq_t, tp_seq_destroy, tp_seq_new(8, &p), n);
    CHECK_CTOR(tp_timers_t, tp_timers_destroy, tp_timers_new(&p), n);
    CHECK_CTOR(tp_state_t, tp_state_destroy, tp_state_new(&p), n);
    assert_int_equal(n, 2); /* the state, its string table */
    CHECK_CTOR(tp_cases_t, tp_cases_destroy, tp_cases_new(&p), n);
    assert_int_equal(n, 2); /* the cases, the open-per-HCP table */
    CHECK_CTOR(tp_alerts_t, tp_alerts_destroy, tp_alerts_new(&st, &p), n);
    assert_int_equal(n, 3); /* the alerts, their arena, the open count per subject slot */
    static const tp_outbox_ops_t ops = { 0 };
    CHECK_CTOR(tp_outbox_t, tp_outbox_destroy, tp_outbox_new(&ops, NULL, &p), n);
    assert_int_equal(n, 1);
}

/* Every module and every rule, each allocation of the chain failing in
 * turn: the engine's one cleanup path takes back whatever was built. */
static void test_engine(void **state) {
    (void)state;
    static const char yaml[] = "clock: event\n";
    char              err[256];
    tp_config_t      *cfg;
    assert_int_equal(tp_config_parse(yaml, strlen(yaml), "test.yaml", err, sizeof err, &cfg), 0);
    int n;
    CHECK_CTOR(tp_engine_t, tp_engine_destroy, tp_engine_new(cfg, &p), n);
    assert_true(n > 10); /* the engine, its 9 modules, the rules */
    tp_config_destroy(&cfg);
}

/* A destroy frees what filled the object too: tables emptied with
 * TP_HASH_DRAIN (entries, buckets, the table header), with entries that own
 * more (cases: steps, owners; alerts: the packed FIRING). */
static void test_destroy_frees_everything(void **state) {
    (void)state;
    int64_t      live = s_live;
    char         id[32];
    tp_intern_t *in;
    assert_int_equal(tp_intern_new(&in), 0);
    for (int i = 0; i < 300; i++) { /* enough for uthash to grow its buckets */
        snprintf(id, sizeof id, "HCP-%d", i);
        assert_non_null(tp_intern_get(in, id));
    }
    tp_intern_destroy(&in);
    assert_int_equal(s_live, live);

    tp_cases_t *cs;
    assert_int_equal(tp_cases_new(&cs), 0);
    /* A step and an owner: what a case owns besides itself. */
    Touchpoint__V1__ContractingStep s = TOUCHPOINT__V1__CONTRACTING_STEP__INIT;
    s.step = "FMV_REVIEW";
    s.owner_id = "FMV-2";
    for (int i = 0; i < 100; i++) {
        snprintf(id, sizeof id, "K-%d", i);
        s.contract_id = id;
        tp_step_change_t ch;
        assert_int_equal(tp_cases_apply(cs, &s, "e", &ch), 0);
    }
    tp_cases_destroy(&cs);
    assert_int_equal(s_live, live);

    tp_stats_t   st = { 0 };
    tp_alerts_t *a;
    assert_int_equal(tp_alerts_new(&st, &a), 0);
    for (int i = 0; i < 100; i++) {
        snprintf(id, sizeof id, "call/C-%d", i);
        tp_alert_spec_t spec = { .rule = "call_incomplete", .subject = id, .summary = "x" };
        assert_int_equal(tp_alerts_fire(a, &spec, 1), 1);
    }
    tp_alerts_destroy(&a);
    assert_int_equal(s_live, live);
}

/* Sizes that cannot be allocated are refused, not wrapped around. */
static void test_impossible_sizes(void **state) {
    (void)state;
    tp_arena_t *a = (tp_arena_t *)(void *)&s_sentinel;
    assert_int_equal(tp_arena_new(SIZE_MAX, &a), -ENOMEM);
    assert_ptr_equal(a, (void *)&s_sentinel);
    tp_dedup_t *d = (tp_dedup_t *)(void *)&s_sentinel;
    assert_int_equal(tp_dedup_new(SIZE_MAX, &d), -ENOMEM);
    assert_ptr_equal(d, (void *)&s_sentinel);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_core),
        cmocka_unit_test(test_state),
        cmocka_unit_test(test_engine),
        cmocka_unit_test(test_destroy_frees_everything),
        cmocka_unit_test(test_impossible_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
