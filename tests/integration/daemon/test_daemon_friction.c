/* test_daemon_friction — the friction rules end to end: a realistic
 * five-week speaker contract (tests/data/speaker_contract.jsonl: nomination,
 * needs assessment, an FMV review sent back twice, a contract that sits
 * unsigned for twelve days, compliance, payment; then the HCP's survey and
 * the rep's follow-up call) replayed with tp-pub into the real daemon over
 * real sockets, every rule on, event clock. Asserts the exact alert
 * sequence, detection stamps and the evidence a contracting lead acts on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tp_testnotify.h"
#include "tp_testutil.h"

#define STREAM TP_SOURCE_DIR "/tests/data/speaker_contract.jsonl"
#define F      TOUCHPOINT__V1__ALERT_STATUS__ALERT_STATUS_FIRING
#define R      TOUCHPOINT__V1__ALERT_STATUS__ALERT_STATUS_RESOLVED

static const tp_want_alert_t s_want[] = {
    { "friction.rework", "rework:contract/K-SPK-01/step/FMV_REVIEW", F, 1775980800000LL, NULL },
    { "friction.rework", "rework:contract/K-SPK-01/step/FMV_REVIEW", R, 1776412800000LL,
      "completed" },
    { "friction.handoffs", "handoffs:contract/K-SPK-01", F, 1776420000000LL, NULL },
    { "friction.hcp_burden", "hcp_burden:contract/K-SPK-01", F, 1776420000000LL, NULL },
    { "friction.step_slow", "step_slow:contract/K-SPK-01/step/CONTRACT_SENT", F, 1776852000001LL,
      NULL },
    { "friction.case_stalled", "case_stalled:contract/K-SPK-01", F, 1777284000001LL, NULL },
    { "friction.step_slow", "step_slow:contract/K-SPK-01/step/CONTRACT_SENT", R, 1777449600000LL,
      "completed" },
    { "friction.case_stalled", "case_stalled:contract/K-SPK-01", R, 1777449600000LL,
      "moved again" },
    { "friction.handoffs", "handoffs:contract/K-SPK-01", R, 1777708800000LL, "case closed" },
    { "friction.hcp_burden", "hcp_burden:contract/K-SPK-01", R, 1777708800000LL, "case closed" },
    { "friction.cycle_time", "cycle_time:contract/K-SPK-01", F, 1777708800000LL, NULL },
    { "friction.negative_feedback", "negative_feedback:feedback/FB-SPK-01", F, 1777795200000LL,
      NULL },
    { "friction.cycle_time", "cycle_time:contract/K-SPK-01", R, 1778313600001LL, "expired" },
    { "friction.negative_feedback", "negative_feedback:feedback/FB-SPK-01", R, 1778400000001LL,
      "expired" },
};
#define N_WANT (sizeof s_want / sizeof s_want[0])

static const char *s_ev(const Touchpoint__V1__Alert *a, const char *key) {
    const char *v = tp_test_evidence(a, key);
    return v ? v : "(missing)";
}

static void test_speaker_contract_history(void **state) {
    tp_dfx_t *d = *state = tp_dfx_start("event", NULL);
    tp_dfx_publish_file(d, STREAM, N_WANT);
    tp_dfx_expect_nothing_more(d); /* the follow-up call prevented follow_up_missing */
    tp_dfx_expect_alerts(d, s_want, N_WANT);
    for (size_t i = 0; i < N_WANT; i++) {
        const Touchpoint__V1__Alert *a = d->got.alerts[i];
        assert_int_equal(a->kind, TOUCHPOINT__V1__ALERT_KIND__ALERT_KIND_FRICTION);
        assert_string_equal(a->contract_id, "K-SPK-01"); /* the feedback links to it too */
        assert_string_equal(a->hcp_id, "HCP-BRANDT");
    }
    /* What a contracting lead needs, in the alert itself. */
    const Touchpoint__V1__Alert *rework = d->got.alerts[0], *handoffs = d->got.alerts[2],
                                *burden = d->got.alerts[3], *slow = d->got.alerts[4],
                                *stalled = d->got.alerts[5], *cycle = d->got.alerts[10],
                                *neg = d->got.alerts[11];
    assert_string_equal(rework->step, "FMV_REVIEW");
    TP_EXPECT_EVIDENCE(rework, { "returns", "2" }, { "owner", "FMV-11" });
    TP_EXPECT_EVIDENCE(handoffs, { "owners", "REP-017,MSL-03,FMV-11,LEGAL-02" });
    TP_EXPECT_EVIDENCE(burden, { "hcp_actions", "5" });
    TP_EXPECT_EVIDENCE(slow, { "owner", "LEGAL-02" }, { "sla", "5d" },
                       { "due_at", "2026-04-22T10:00:00Z" });
    TP_EXPECT_EVIDENCE(stalled, { "last_step", "CONTRACT_SENT" }, { "stalled_for", "10d" });
    TP_EXPECT_EVIDENCE(cycle, { "cycle_time", "26d" }, { "over_by", "12d" },
                       { "owners", "REP-017,MSL-03,FMV-11,LEGAL-02,COMP-05,FIN-09" });
    assert_int_equal(neg->severity, TOUCHPOINT__V1__SEVERITY__SEVERITY_CRITICAL);
    TP_EXPECT_EVIDENCE(neg, { "nps", "3" }, { "effort_score", "6" });
    assert_non_null(strstr(s_ev(neg, "comment"), "four different people"));

    char *log = tp_dfx_stop(d);
    assert_int_equal(tp_dfx_stat(log, "contracting"), 16);
    assert_int_equal(tp_dfx_stat(log, "open_alerts"), d->probes); /* only the probes' */
    free(log);
}

TP_TEST_MAIN(cmocka_unit_test_teardown(test_speaker_contract_history, tp_dfx_teardown))
