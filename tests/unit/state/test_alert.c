/* test_alert — the FIRING -> RESOLVED lifecycle and sequence numbers. */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <unistd.h>

#include "tp_alert.h"
#include "tp_snapio.h"
#include "tp_testmsg.h"
#include "tp_testutil.h"

static tp_alert_spec_t s_spec(const char *subject) {
    static const tp_kv_t     ev[] = { { "missing", "notes" }, { "channel", "PHONE" } };
    static const char *const ids[] = { "e1", "e0" };
    return (tp_alert_spec_t){
        .kind = TOUCHPOINT__V1__ALERT_KIND__ALERT_KIND_FRICTION,
        .rule = "rework",
        .subject = subject,
        .severity = TOUCHPOINT__V1__SEVERITY__SEVERITY_CRITICAL,
        .contract_id = "K-1",
        .step = "FMV_REVIEW",
        .summary = "Returned twice.",
        .evidence = ev,
        .n_evidence = 2,
        .event_ids = ids,
        .n_event_ids = 2,
    };
}

/* Every test: an alert lifecycle publishing into `got`. */
typedef struct {
    tp_stats_t       st;
    tp_test_alerts_t got;
    tp_alerts_t     *a;
} fixture_t;

static int s_setup(void **state) {
    fixture_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_int_equal(tp_alerts_new(&f->st, &f->a), 0);
    tp_alerts_set_sink(f->a, tp_test_sink, &f->got);
    *state = f;
    return 0;
}

/* Open alerts are freed by destroy (LSan checks under TP_SANITIZE). */
static int s_teardown(void **state) {
    fixture_t *f = *state;
    tp_test_alerts_clear(&f->got);
    tp_alerts_destroy(&f->a);
    free(f);
    return 0;
}

static void test_fire_dedup_resolve(void **state) {
    fixture_t        *f = *state;
    tp_alerts_t      *a = f->a;
    tp_test_alerts_t *got = &f->got;
    tp_alerts_set_next_sequence(a, 41);

    tp_alert_spec_t spec = s_spec("contract/K-1/step/FMV_REVIEW");
    assert_int_equal(tp_alerts_fire(a, &spec, 100), 1);
    assert_int_equal(tp_alerts_fire(a, &spec, 200), 0); /* already firing */
    assert_true(tp_alerts_is_firing(a, "rework", "contract/K-1/step/FMV_REVIEW"));
    assert_int_equal(tp_alerts_open(a), 1);
    assert_int_equal(got->n, 1);
    assert_string_equal(got->topics[0], "friction.rework");
    assert_string_equal(got->alerts[0]->alert_id, "rework:contract/K-1/step/FMV_REVIEW");
    assert_int_equal(got->alerts[0]->sequence, 41);
    assert_int_equal(got->alerts[0]->n_event_ids, 2);

    assert_int_equal(tp_alerts_resolve(a, "rework", "contract/K-2", "x", NULL, 0, NULL, 300), 0);
    const tp_kv_t upd[] = { { "missing", "" }, { "resolution", "completed" } };
    assert_int_equal(
        tp_alerts_resolve(a, "rework", "contract/K-1/step/FMV_REVIEW", "Done.", upd, 2, "e9", 400),
        1);
    assert_int_equal(got->n, 2);
    Touchpoint__V1__Alert *r = got->alerts[1];
    /* The FIRING's fields, its evidence updated: channel kept, missing overridden. */
    assert_string_equal(
        TP_TEST_ALERT_DIFF(r, .status = TOUCHPOINT__V1__ALERT_STATUS__ALERT_STATUS_RESOLVED,
                           .step = "FMV_REVIEW", .contract_id = "K-1",
                           .severity = TOUCHPOINT__V1__SEVERITY__SEVERITY_CRITICAL),
        "");
    assert_int_equal(r->n_evidence, 3);
    assert_string_equal(
        TP_TEST_EVIDENCE_DIFF(r, "channel", "PHONE", "missing", "", "resolution", "completed"), "");
    assert_int_equal(r->sequence, 42);
    assert_int_equal(r->detected_at_ms, 400);
    assert_string_equal(r->summary, "Done.");
    assert_int_equal(r->n_event_ids, 1);
    assert_string_equal(r->event_ids[0], "e9");
    assert_false(tp_alerts_is_firing(a, "rework", "contract/K-1/step/FMV_REVIEW"));
    assert_int_equal(f->st.alerts_firing, 1);
    assert_int_equal(f->st.alerts_resolved, 1);
    assert_int_equal(tp_alerts_next_sequence(a), 43);
}

static int s_failing_sink(void *ctx, const char *topic, const uint8_t *buf, size_t len,
                          const Touchpoint__V1__Alert *alert) {
    (void)ctx;
    (void)topic;
    (void)buf;
    (void)len;
    (void)alert;
    return -11;
}

static void test_resolve_rule_takes_only_that_rule(void **state) {
    fixture_t        *f = *state;
    tp_alerts_t      *a = f->a;
    tp_test_alerts_t *got = &f->got;
    tp_alert_spec_t   spec = s_spec("contract/K-1");
    assert_int_equal(tp_alerts_fire(a, &spec, 1), 1);
    spec.subject = "contract/K-2";
    assert_int_equal(tp_alerts_fire(a, &spec, 1), 1);
    /* "rework_x" shares the prefix but is another rule. */
    spec.rule = "rework_x";
    assert_int_equal(tp_alerts_fire(a, &spec, 1), 1);
    const tp_kv_t why[] = { { "reason", "rule_disabled" } };
    assert_int_equal(tp_alerts_resolve_rule(a, "rework", "off", why, 1, 5), 2);
    assert_int_equal(tp_alerts_open(a), 1);
    assert_true(tp_alerts_is_firing(a, "rework_x", "contract/K-2"));
    assert_int_equal(got->n, 5);
    for (size_t i = 3; i < 5; i++) {
        assert_int_equal(got->alerts[i]->status,
                         TOUCHPOINT__V1__ALERT_STATUS__ALERT_STATUS_RESOLVED);
        assert_string_equal(tp_test_evidence(got->alerts[i], "reason"), "rule_disabled");
        assert_int_equal(got->alerts[i]->n_event_ids, 0);
    }
}

static void test_sink_failure_is_counted_and_state_moves_on(void **state) {
    fixture_t   *f = *state;
    tp_alerts_t *a = f->a;
    tp_alerts_set_sink(a, s_failing_sink, NULL);
    tp_alert_spec_t spec = s_spec("contract/K-1");
    assert_int_equal(tp_alerts_fire(a, &spec, 1), 1);
    assert_int_equal(f->st.publish_errors, 1);
    assert_int_equal(tp_alerts_resolve(a, "rework", "contract/K-1", "ok", NULL, 0, NULL, 2), 1);
    assert_int_equal(f->st.publish_errors, 2);
    assert_int_equal(tp_alerts_open(a), 0);
}

static void test_overlong_id_is_refused(void **state) {
    fixture_t   *f = *state;
    tp_alerts_t *a = f->a;
    char         subject[TP_ALERT_ID_MAX + 1];
    memset(subject, 's', sizeof subject - 1);
    subject[sizeof subject - 1] = '\0';
    tp_alert_spec_t spec = s_spec(subject);
    assert_true(tp_alerts_fire(a, &spec, 1) < 0);
    assert_int_equal(tp_alerts_open(a), 0);
}

/* A sink that checks the bytes published are exactly protobuf-c's own
 * packing of the alert, sized by protobuf_c_message_get_packed_size. */
static int s_exact_sink(void *ctx, const char *topic, const uint8_t *buf, size_t len,
                        const Touchpoint__V1__Alert *alert) {
    (void)topic;
    size_t   want = protobuf_c_message_get_packed_size(&alert->base);
    uint8_t *exact = malloc(want ? want : 1);
    assert_non_null(exact);
    protobuf_c_message_pack(&alert->base, exact);
    assert_int_equal(len, want);
    assert_memory_equal(buf, exact, len);
    free(exact);
    (*(size_t *)ctx)++;
    return 0;
}

/* Alerts are packed into a scratch buffer bounded from their strings'
 * lengths, not sized first: the bytes stay protobuf-c's, for alerts of
 * every size around the scratch buffer's (the large ones are sized
 * exactly), with the longest varints (negative times, huge sequences). */
static void test_packed_bytes_are_exact(void **state) {
    fixture_t *f = *state;
    size_t     published = 0;
    tp_alerts_set_sink(f->a, s_exact_sink, &published);
    tp_alerts_set_next_sequence(f->a, UINT64_MAX - 1000);
    static char big[5000];
    memset(big, 'v', sizeof big - 1);
    tp_kv_t ev[32];
    char    subject[32], keys[32][8];
    size_t  fired = 0;
    for (size_t n = 0; n < 4500; n += 150) {
        for (size_t i = 0; i < 32; i++) {
            snprintf(keys[i], sizeof keys[i], "k%zu", i);
            ev[i] = (tp_kv_t){ keys[i], big + sizeof big - 1 - n / 32 };
        }
        snprintf(subject, sizeof subject, "s/%zu", n);
        tp_alert_spec_t spec = s_spec(subject);
        spec.summary = big + sizeof big - 1 - n;
        spec.hcp_id = "H-\xc3\xa9";
        spec.evidence = ev;
        spec.n_evidence = n % 300 == 0 ? 0 : 32;
        assert_int_equal(tp_alerts_fire(f->a, &spec, n % 2 ? -1 : INT64_MAX), 1);
        assert_int_equal(tp_alerts_resolve(f->a, "rework", subject, big + sizeof big - 1 - n, ev, 1,
                                           "e9", INT64_MIN),
                         1);
        fired++;
    }
    assert_int_equal(published, 2 * fired);
}

/* Saves the open alerts of `from` (or, with v1, a version-1 section of the
 * FIRINGs captured in `got`: what an older daemon wrote) and loads them
 * into a fresh lifecycle publishing into `got`. */
static tp_alerts_t *s_reload(fixture_t *f, bool v1) {
    tp_snapw_t *w;
    FILE       *tmp = tp_test_snap_file(&w);
    if (v1) {
        tp_snapw_section(w, TP_SNAP_TAG('A', 'L', 'R', 'T'), 1);
        tp_snapw_u64(w, tp_alerts_next_sequence(f->a));
        tp_snapw_u64(w, f->got.n);
        for (size_t i = 0; i < f->got.n; i++) {
            uint8_t buf[4096];
            size_t  len = touchpoint__v1__alert__get_packed_size(f->got.alerts[i]);
            assert_true(len <= sizeof buf);
            touchpoint__v1__alert__pack(f->got.alerts[i], buf);
            tp_snapw_bytes(w, buf, len);
        }
    } else {
        tp_alerts_save(f->a, w);
    }
    tp_test_snap_written(&w);
    tp_snapr_t  *r = tp_test_snap_reader(tmp, 0);
    tp_alerts_t *b;
    assert_int_equal(tp_alerts_new(&f->st, &b), 0);
    tp_alerts_set_sink(b, tp_test_sink, &f->got);
    assert_int_equal(tp_alerts_load(b, r), 0);
    tp_snapr_destroy(&r);
    fclose(tmp);
    return b;
}

/* A restored alert is open under its id, resolves with the FIRING's fields
 * and evidence, and keeps the sequence, from this version's snapshot (id
 * written beside the bytes) and from a version-1 one (bytes only). */
static void test_snapshot_round_trip(void **state) {
    fixture_t *f = *state;
    for (int v1 = 0; v1 < 2; v1++) {
        tp_test_alerts_clear(&f->got);
        tp_alerts_destroy(&f->a);
        assert_int_equal(tp_alerts_new(&f->st, &f->a), 0);
        tp_alerts_set_sink(f->a, tp_test_sink, &f->got);
        tp_alerts_set_next_sequence(f->a, 7);
        tp_alert_spec_t s1 = s_spec("contract/K-1"), s2 = s_spec("contract/K-2");
        assert_int_equal(tp_alerts_fire(f->a, &s1, 100), 1);
        assert_int_equal(tp_alerts_fire(f->a, &s2, 100), 1);
        tp_alerts_t *b = s_reload(f, v1);
        assert_int_equal(tp_alerts_open(b), 2);
        assert_int_equal(tp_alerts_next_sequence(b), 9);
        assert_true(tp_alerts_is_firing(b, "rework", "contract/K-2"));
        assert_false(tp_alerts_is_firing(b, "rework", "contract/K-3"));
        assert_int_equal(tp_alerts_fire(b, &s1, 200), 0); /* still open: no second FIRING */
        assert_int_equal(
            tp_alerts_resolve(b, "rework", "contract/K-1", "Done.", NULL, 0, "e9", 300), 1);
        Touchpoint__V1__Alert *r = f->got.alerts[f->got.n - 1];
        assert_string_equal(r->alert_id, "rework:contract/K-1");
        assert_int_equal(r->sequence, 9);
        assert_string_equal(TP_TEST_EVIDENCE_DIFF(r, "missing", "notes", "channel", "PHONE"), "");
        assert_string_equal(r->step, "FMV_REVIEW");
        tp_alerts_destroy(&b);
    }
}

/* Thousands of alerts of varied lengths: the reader refills its buffer
 * at every offset, also between an id and what follows it (a view kept
 * across that refill was read back corrupt). */
static void test_snapshot_many(void **state) {
    fixture_t *f = *state;
    char       subject[96];
    for (unsigned i = 0; i < 3000; i++) {
        snprintf(subject, sizeof subject, "contract/K-%u/%.*s", i, (int)(i % 61),
                 "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijk");
        tp_alert_spec_t spec = s_spec(subject);
        assert_int_equal(tp_alerts_fire(f->a, &spec, 100), 1);
    }
    tp_test_alerts_clear(&f->got);
    tp_alerts_t *b = s_reload(f, false);
    assert_int_equal(tp_alerts_open(b), 3000);
    for (unsigned i = 0; i < 3000; i++) {
        snprintf(subject, sizeof subject, "contract/K-%u/%.*s", i, (int)(i % 61),
                 "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijk");
        assert_true(tp_alerts_is_firing(b, "rework", subject));
    }
    tp_alerts_destroy(&b);
}

TP_TEST_MAIN_WITH(s_setup, s_teardown, cmocka_unit_test(test_fire_dedup_resolve),
                  cmocka_unit_test(test_snapshot_many), cmocka_unit_test(test_snapshot_round_trip),
                  cmocka_unit_test(test_resolve_rule_takes_only_that_rule),
                  cmocka_unit_test(test_sink_failure_is_counted_and_state_moves_on),
                  cmocka_unit_test(test_overlong_id_is_refused),
                  cmocka_unit_test(test_packed_bytes_are_exact))
