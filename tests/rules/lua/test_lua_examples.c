/* test_lua_examples — the three example Lua rules of examples/rules/, run
 * by the engine beside the built-in rules (only negative_feedback left on,
 * which no call or step event wakes). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tp_testengine.h"

#define SUBMITTED TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_SUBMITTED
#define PHONE     TOUCHPOINT__V1__CHANNEL__CHANNEL_PHONE
#define COMPLETED TOUCHPOINT__V1__STEP_STATE__STEP_STATE_COMPLETED
#define ALL4      (TP_FIELD_PRODUCTS | TP_FIELD_TOPICS | TP_FIELD_NOTES | TP_FIELD_NEXT_STEP)

/* A fixture running example `file` with `config` (a YAML flow map). */
static tp_fixture_t *s_fixture(const char *file, const char *config) {
    char head[1024];
    snprintf(head, sizeof head,
             "clock: event\nlua_rules:\n  - file: %s/examples/rules/%s\n    config: %s\n",
             TP_SOURCE_DIR, file, config);
    return tp_fixture_only(head, "negative_feedback", NULL);
}

static void test_notes_quality(void **state) {
    (void)state;
    tp_fixture_t *f = s_fixture("notes_quality.lua", "{ min_words: 4 }");
    TP_CALL(f, .event_id = "e1", .at_ms = TP_T0, .call_id = "C-1", .status = SUBMITTED,
            .fields = ALL4, .notes = "n/a");
    TP_CALL(f, .event_id = "e2", .at_ms = TP_T0 + 1, .call_id = "C-2", .status = SUBMITTED,
            .fields = ALL4, .notes = "Discussed the new dosing schedule and samples");
    TP_CALL(f, .event_id = "e3", .at_ms = TP_T0 + 2, .call_id = "C-3", .status = SUBMITTED,
            .channel = PHONE, .fields = ALL4, .notes = "ok");
    assert_int_equal(f->got.n, 1);
    const Touchpoint__V1__Alert *a = tp_expect(f, 0, TP_FIRING, "notes_quality:call/C-1");
    assert_string_equal(f->got.topics[0], "accountability.notes_quality");
    assert_string_equal(a->call_id, "C-1");
    assert_string_equal(a->hcp_id, "HCP-1");
    assert_string_equal(tp_test_evidence(a, "words"), "1");
    assert_string_equal(tp_test_evidence(a, "boilerplate"), "true");
    assert_int_equal(a->n_event_ids, 1);
    assert_string_equal(a->event_ids[0], "e1");
    /* dedup: the same call again does not fire twice */
    TP_CALL(f, .event_id = "e4", .at_ms = TP_T0 + 3, .call_id = "C-1", .status = SUBMITTED,
            .fields = ALL4, .notes = "N/A");
    assert_int_equal(f->got.n, 1);
    /* a corrected version resolves it */
    TP_CALL(f, .event_id = "e5", .at_ms = TP_T0 + 4, .call_id = "C-1", .status = SUBMITTED,
            .fields = ALL4, .notes = "Reviewed the trial results with the HCP");
    assert_int_equal(f->got.n, 2);
    tp_expect_resolved(f, 1, "notes completed");
    tp_fixture_free(f);
}

static void s_call(tp_fixture_t *f, int i, int64_t at, const char *rep) {
    char eid[16], cid[16];
    snprintf(eid, sizeof eid, "e%d", i);
    snprintf(cid, sizeof cid, "C-%d", i);
    TP_CALL(f, .event_id = eid, .at_ms = at, .call_id = cid, .hcp_id = "HCP-7", .rep_id = rep,
            .status = SUBMITTED, .fields = ALL4);
}

static void test_contact_frequency(void **state) {
    (void)state;
    tp_fixture_t *f = s_fixture("contact_frequency.lua", "{ max_calls: 3, window: 10d }");
    s_call(f, 1, TP_T0, "REP-1");
    s_call(f, 2, TP_T0 + 1 * TP_D, "REP-2");
    s_call(f, 3, TP_T0 + 2 * TP_D, "REP-1");
    assert_int_equal(f->got.n, 0);
    s_call(f, 4, TP_T0 + 3 * TP_D, "REP-3");
    assert_int_equal(f->got.n, 1);
    const Touchpoint__V1__Alert *a = tp_expect(f, 0, TP_FIRING, "contact_frequency:hcp/HCP-7");
    assert_string_equal(tp_test_evidence(a, "calls"), "4");
    assert_string_equal(a->rep_id, "REP-3");
    /* a fifth call keeps it firing, no second FIRING */
    s_call(f, 5, TP_T0 + 4 * TP_D, "REP-2");
    assert_int_equal(f->got.n, 1);
    /* the first two calls leave the window at T0+10d and T0+11d: 3 remain */
    TP_WATERMARK(f, TP_T0 + 10 * TP_D + 1);
    assert_int_equal(f->got.n, 1);
    TP_WATERMARK(f, TP_T0 + 11 * TP_D + 1);
    assert_int_equal(f->got.n, 2);
    tp_expect_resolved(f, 1, "window passed");
    tp_fixture_free(f);
}

static void s_step(tp_fixture_t *f, const char *eid, int64_t at, const char *contract,
                   const char *step) {
    TP_STEP(f, .event_id = eid, .at_ms = at, .contract_id = contract, .step = step,
            .state = COMPLETED);
}

static void test_compliance_after_signature(void **state) {
    (void)state;
    tp_fixture_t *f = s_fixture("compliance_after_signature.lua", "{ within: 5d }");
    s_step(f, "s1", TP_T0, "K-1", "CONTRACT_SIGNED");
    s_step(f, "s2", TP_T0, "K-2", "CONTRACT_SIGNED");
    s_step(f, "a2", TP_T0 + 2 * TP_D, "K-2", "COMPLIANCE_APPROVAL");
    TP_WATERMARK(f, TP_T0 + 5 * TP_D);
    assert_int_equal(f->got.n, 0); /* due at 5d, missed only after it */
    TP_WATERMARK(f, TP_T0 + 5 * TP_D + 1);
    assert_int_equal(f->got.n, 1);
    const Touchpoint__V1__Alert *a =
        tp_expect(f, 0, TP_FIRING, "compliance_after_signature:contract/K-1");
    assert_string_equal(f->got.topics[0], "friction.compliance_after_signature");
    assert_int_equal(a->severity, TOUCHPOINT__V1__SEVERITY__SEVERITY_CRITICAL);
    assert_string_equal(a->contract_id, "K-1");
    assert_int_equal(a->detected_at_ms, TP_T0 + 5 * TP_D + 1);
    s_step(f, "a1", TP_T0 + 6 * TP_D, "K-1", "COMPLIANCE_APPROVAL");
    assert_int_equal(f->got.n, 2);
    tp_expect_resolved(f, 1, "approved");
    tp_fixture_free(f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_notes_quality),
        cmocka_unit_test(test_contact_frequency),
        cmocka_unit_test(test_compliance_after_signature),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
