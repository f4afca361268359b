/* test_daemon_rules — the accountability rules end to end: the real
 * touchpointd over real ZeroMQ sockets, in `event` clock mode, fed a
 * realistic two-week export (tests/data/accountability.jsonl) with tp-pub,
 * asserting the exact alert sequence; the same export through --replay
 * gives the same alerts; and in `wall` mode an absence deadline fires from
 * the daemon's timer with no further input. Nothing sleeps: time is event
 * time, and every wait has a deadline. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include <jansson.h>

#include "tp_testnotify.h"
#include "tp_testutil.h"

#define STREAM TP_SOURCE_DIR "/tests/data/accountability.jsonl"

/* This file is about the accountability rules: the friction rules are
 * switched off so their alerts (negative_feedback on the same surveys)
 * do not interleave; test_daemon_friction runs every rule. */
static const char *s_accountability_only = "rules:\n"
                                           "  step_slow: { enabled: false }\n"
                                           "  case_stalled: { enabled: false }\n"
                                           "  rework: { enabled: false }\n"
                                           "  handoffs: { enabled: false }\n"
                                           "  hcp_burden: { enabled: false }\n"
                                           "  cycle_time: { enabled: false }\n"
                                           "  negative_feedback: { enabled: false }\n";
#define F TOUCHPOINT__V1__ALERT_STATUS__ALERT_STATUS_FIRING
#define R TOUCHPOINT__V1__ALERT_STATUS__ALERT_STATUS_RESOLVED

static const tp_want_alert_t s_want[] = {
    { "accountability.call_unsubmitted", "call_unsubmitted:call/C-B1", F, 1772697600001LL, NULL },
    { "accountability.uncoordinated_contact", "uncoordinated_contact:hcp/HCP-A", F, 1772704800000LL,
      NULL },
    { "accountability.channel_mismatch", "channel_mismatch:hcp/HCP-A", F, 1772704800000LL, NULL },
    { "accountability.call_unsubmitted", "call_unsubmitted:call/C-B2", F, 1772784000001LL, NULL },
    { "accountability.channel_mismatch", "channel_mismatch:hcp/HCP-A", R, 1772791200000LL, NULL },
    { "accountability.call_unsubmitted", "call_unsubmitted:call/C-B2", R, 1772870400000LL, NULL },
    { "accountability.call_late", "call_late:call/C-B2", F, 1772870400000LL, NULL },
    { "accountability.call_incomplete", "call_incomplete:call/C-B3", F, 1772874000000LL, NULL },
    { "accountability.call_incomplete", "call_incomplete:call/C-B3", R, 1772956800000LL, NULL },
    { "accountability.follow_up_missing", "follow_up_missing:feedback/FB-2", F, 1773129600001LL,
      NULL },
    { "accountability.uncoordinated_contact", "uncoordinated_contact:hcp/HCP-A", R, 1773216000000LL,
      NULL },
    { "accountability.call_late", "call_late:call/C-B2", R, 1773475200001LL, NULL },
};
#define N_WANT (sizeof s_want / sizeof s_want[0])

static void test_two_week_export_over_the_bus(void **state) {
    tp_dfx_t *d = *state = tp_dfx_start("event", s_accountability_only);
    tp_dfx_publish_file(d, STREAM, N_WANT);
    unsigned probes = d->probes;
    tp_dfx_expect_nothing_more(d);
    tp_dfx_expect_alerts(d, s_want, N_WANT);
    for (size_t i = 0; i < N_WANT; i++) {
        Touchpoint__V1__Alert *a = d->got.alerts[i];
        assert_int_equal(a->sequence, probes + 1 + i);
    }
    /* Evidence a manager can act on, without opening the CRM. */
    Touchpoint__V1__Alert *unc = d->got.alerts[1], *late = d->got.alerts[6];
    assert_string_equal(tp_test_evidence(unc, "reps"), "R-1,R-2,R-3");
    assert_string_equal(unc->hcp_id, "HCP-A");
    assert_string_equal(tp_test_evidence(late, "late_by"), "1d");
    assert_string_equal(late->rep_id, "R-4");
    assert_string_equal(tp_test_evidence(d->got.alerts[2], "preferred"), "VIDEO");
    assert_string_equal(tp_test_evidence(d->got.alerts[0], "due_at"), "2026-03-05T08:00:00Z");
    char *log = tp_dfx_stop(d);
    assert_int_equal(tp_dfx_stat(log, "seq_gaps"), 0);
    free(log);
}

/* --replay over the same file: the same alerts, the same order, the same
 * event-time detection stamps. */
static void test_replay_matches_the_live_run(void **state) {
    (void)state;
    char *dir = tp_tmpdir();
    char *out = tp_path(dir, "alerts.jsonl"), *err = tp_path(dir, "err");
    char *cfg = tp_path(dir, "touchpointd.yaml");
    assert_int_equal(tp_write_file(cfg, s_accountability_only), 0);
    const char *argv[] = { TP_DAEMON_BIN, "--config", cfg, "--replay", STREAM, NULL };
    assert_int_equal(tp_run(argv, out, err, TP_WAIT_MS), 0);
    char  *text = tp_read_file(out);
    size_t i = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"), i++) {
        assert_true(i < N_WANT);
        json_t *j = json_loads(line, 0, NULL);
        assert_non_null(j);
        assert_string_equal(json_string_value(json_object_get(j, "topic")), s_want[i].topic);
        assert_string_equal(json_string_value(json_object_get(j, "alertId")), s_want[i].id);
        assert_string_equal(json_string_value(json_object_get(j, "status")),
                            s_want[i].status == F ? "ALERT_STATUS_FIRING"
                                                  : "ALERT_STATUS_RESOLVED");
        assert_int_equal(strtoll(json_string_value(json_object_get(j, "detectedAtMs")), NULL, 10),
                         s_want[i].detected_at);
        assert_int_equal(strtoll(json_string_value(json_object_get(j, "sequence")), NULL, 10),
                         i + 1);
        json_decref(j);
    }
    assert_int_equal(i, N_WANT);
    free(text);
    TP_EXPECT_FILE_HAS(err, "7 alerts fired, 5 resolved, 2 still open");

    /* A bad line is reported with file:line and the rest still runs. */
    char *bad = tp_path(dir, "bad.jsonl");
    assert_int_equal(tp_write_file(bad, "{\"eventId\":\"x\",\"call\":{\"status\":\"SUBMITED\"}}\n"
                                        "not json\n"),
                     0);
    const char *argv2[] = { TP_DAEMON_BIN, "--replay", bad, NULL };
    assert_int_equal(tp_run(argv2, out, err, TP_WAIT_MS), 1);
    text = tp_read_file(err);
    char *want = NULL;
    assert_true(asprintf(&want, "%s:1: call.status: unknown enum value", bad) > 0);
    assert_non_null(strstr(text, want));
    free(want);
    assert_true(asprintf(&want, "%s:2: ", bad) > 0);
    assert_non_null(strstr(text, want));
    free(want);
    free(text);
    tp_rmrf(dir);
    free(bad);
    free(out);
    free(err);
    free(cfg);
    free(dir);
}

/* Wall clock: a call planned three days ago and never submitted is due;
 * the daemon's one timer fires it without any further input. */
static void test_wall_clock_deadline_fires_from_the_timer(void **state) {
    tp_dfx_t       *d = *state = tp_dfx_start("wall", NULL);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t        now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    tp_test_call_t c = { .event_id = "w1",
                         .at_ms = now - 4 * 86400000LL,
                         .call_id = "C-W",
                         .status = TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_PLANNED,
                         .call_at_ms = now - 3 * 86400000LL };
    tp_dfx_send_call(d, &c);
    assert_true(tp_dfx_recv_alert(d, TP_WAIT_MS));
    Touchpoint__V1__Alert *a = d->got.alerts[0];
    assert_string_equal(a->alert_id, "call_unsubmitted:call/C-W");
    assert_int_equal(a->status, F);
    assert_true(a->detected_at_ms >= now); /* the wall clock, not event time */
    char *log = tp_dfx_stop(d);
    free(log);
}

TP_TEST_MAIN(cmocka_unit_test_teardown(test_two_week_export_over_the_bus, tp_dfx_teardown),
             cmocka_unit_test(test_replay_matches_the_live_run),
             cmocka_unit_test_teardown(test_wall_clock_deadline_fires_from_the_timer,
                                       tp_dfx_teardown))
