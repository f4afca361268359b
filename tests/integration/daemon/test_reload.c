/* test_reload — SIGHUP reload of the real daemon over real sockets:
 * an invalid file is refused with file:line and the old config keeps
 * working; a valid one changes thresholds and endpoints while calls,
 * open alerts and armed deadlines survive; a rule switched off resolves
 * its open alerts; each restart-only key and a failed bind are refused
 * whole; an armed deadline keeps its due time across a threshold reload.
 * Also the sd_notify protocol (READY, STATUS, WATCHDOG, RELOADING,
 * STOPPING) against a real notify socket. Event clock: nothing sleeps. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>
#include <zmq.h>

#include "tp_config.h"
#include "tp_testdaemon.h"
#include "tp_testnotify.h"
#include "tp_testutil.h"

#define T0   1767225600000LL /* 2026-01-01T00:00:00Z, the probes' time */
#define HOUR 3600000LL
#define F    TOUCHPOINT__V1__ALERT_STATUS__ALERT_STATUS_FIRING
#define R    TOUCHPOINT__V1__ALERT_STATUS__ALERT_STATUS_RESOLVED

#define ALL_FIELDS ((1u << TP_FIELD_COUNT) - 1)

#define REQUIRE_PRODUCTS "rules:\n  call_incomplete: { required: [products] }\n"
#define REQUIRE_NOTES    "rules:\n  call_incomplete: { required: [notes] }\n"

/* Receives until the alert `id` arrives with `status`; returns it. */
static Touchpoint__V1__Alert *s_wait_for(tp_dfx_t *d, const char *id, int status) {
    for (;;) {
        if (!tp_dfx_recv_alert(d, TP_WAIT_MS)) {
            for (size_t i = 0; i < d->got.n; i++)
                print_message("got %s %d\n", d->got.alerts[i]->alert_id, d->got.alerts[i]->status);
            fail_msg("no %s (status %d)", id, status);
        }
        Touchpoint__V1__Alert *a = d->got.alerts[d->got.n - 1];
        if (strcmp(a->alert_id, id) == 0 && (int)a->status == status)
            return a;
    }
}

/* True if alert `id` with `status` is among those received. */
static bool s_got(const tp_dfx_t *d, const char *id, int status) {
    for (size_t i = 0; i < d->got.n; i++)
        if (strcmp(d->got.alerts[i]->alert_id, id) == 0 && (int)d->got.alerts[i]->status == status)
            return true;
    return false;
}

static void s_call(tp_dfx_t *d, const char *id, int status, int64_t call_at, unsigned fields) {
    /* Each version is a new event: the call id plus a count. */
    static unsigned n;
    char            event_id[64];
    snprintf(event_id, sizeof event_id, "%s#%u", id, n++);
    tp_test_call_t c = { .event_id = event_id,
                         .at_ms = call_at,
                         .call_id = id,
                         .status = status,
                         .call_at_ms = call_at,
                         .fields = fields };
    tp_dfx_send_call(d, &c);
}

static void s_submitted(tp_dfx_t *d, const char *id, unsigned fields) {
    s_call(d, id, TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_SUBMITTED, T0, fields);
}

static void s_planned(tp_dfx_t *d, const char *id, int64_t call_at) {
    s_call(d, id, TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_PLANNED, call_at, 0);
}

static void test_invalid_config_is_refused_with_file_line(void **state) {
    tp_dfx_t *d = *state = tp_dfx_start("event", REQUIRE_PRODUCTS);
    /* Line 3 holds the error: an unknown key under rules.call_incomplete. */
    assert_false(tp_dfx_reload_yaml(d, "rules:\n  call_incomplete:\n    requried: [notes]\n"));
    char *log = tp_read_file(d->err);
    char  want[4200];
    snprintf(want, sizeof want, "refused: %s:3:", d->cfg);
    assert_non_null(strstr(log, want));
    free(log);
    /* Still running, on the old thresholds: notes present, products missing. */
    s_submitted(d, "C-1", TP_FIELD_NOTES);
    Touchpoint__V1__Alert *a = s_wait_for(d, "call_incomplete:call/C-1", F);
    assert_string_equal(tp_test_evidence(a, "missing"), "products");
    /* A YAML syntax error is refused the same way. */
    assert_false(tp_dfx_reload_yaml(d, "rules: [\n"));
    s_submitted(d, "C-2", TP_FIELD_NOTES);
    s_wait_for(d, "call_incomplete:call/C-2", F);
    char *err = tp_dfx_stop(d);
    assert_int_equal(tp_count_lines(err, "still running on the previous config"), 2);
    free(err);
}

static void test_thresholds_change_and_state_survives(void **state) {
    tp_dfx_t *d = *state = tp_dfx_start("event", REQUIRE_PRODUCTS);
    /* Armed before the reload: an unsubmitted deadline 48 h after call_at. */
    s_planned(d, "P-1", T0 + HOUR);
    s_submitted(d, "C-1", TP_FIELD_NOTES);
    s_wait_for(d, "call_incomplete:call/C-1", F);

    assert_true(tp_dfx_reload(d, "event", REQUIRE_NOTES));
    /* New threshold: notes required, products no longer. */
    s_submitted(d, "C-2", TP_FIELD_PRODUCTS);
    Touchpoint__V1__Alert *a = s_wait_for(d, "call_incomplete:call/C-2", F);
    assert_string_equal(tp_test_evidence(a, "missing"), "notes");
    s_submitted(d, "C-3", TP_FIELD_NOTES);
    /* State kept: the deadline armed before the reload fires, and C-1's
     * alert (open since before the reload) resolves when C-1 gets what the
     * new config requires. */
    tp_dfx_send_watermark(d, "W-1", T0 + 50 * HOUR);
    s_wait_for(d, "call_unsubmitted:call/P-1", F);
    s_call(d, "C-1", TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_SUBMITTED, T0,
           TP_FIELD_NOTES | TP_FIELD_PRODUCTS);
    s_wait_for(d, "call_incomplete:call/C-1", R);
    assert_false(s_got(d, "call_incomplete:call/C-3", F));
}

static void test_endpoints_move_without_losing_state(void **state) {
    tp_dfx_t *d = *state = tp_dfx_start("event", NULL);
    s_planned(d, "P-1", T0 + HOUR);
    s_submitted(d, "C-1", 0);
    s_wait_for(d, "call_incomplete:call/C-1", F);

    char *old_in = d->in_ep, *old_out = d->out_ep;
    assert_true(asprintf(&d->in_ep, "ipc://%s/in2.sock", d->dir) > 0);
    assert_true(asprintf(&d->out_ep, "ipc://%s/out2.sock", d->dir) > 0);
    assert_true(tp_dfx_reload(d, "event", NULL));
    /* The old ipc path goes (unbound; libzmq unlinks it from its I/O thread). */
    char *path = tp_path(d->dir, "in.sock");
    for (long long until = tp_now_ms() + TP_WAIT_MS; access(path, F_OK) == 0;) {
        assert_true(tp_now_ms() < until);
        zmq_poll(NULL, 0, 10);
    }
    free(path);
    free(old_in);
    free(old_out);
    tp_dfx_reconnect(d);

    tp_dfx_send_watermark(d, "W-1", T0 + 50 * HOUR);
    s_wait_for(d, "call_unsubmitted:call/P-1", F);
    s_call(d, "C-1", TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_SUBMITTED, T0, ALL_FIELDS);
    s_wait_for(d, "call_incomplete:call/C-1", R);
    tp_dfx_stop_expect(d, "2 endpoints reopened");
}

static void test_rule_switched_off_resolves_its_alerts(void **state) {
    tp_dfx_t *d = *state = tp_dfx_start("event", NULL);
    s_submitted(d, "C-1", 0);
    s_wait_for(d, "call_incomplete:call/C-1", F);
    s_planned(d, "P-1", T0 + HOUR);

    assert_true(tp_dfx_reload(d, "event", "rules:\n  call_incomplete: { enabled: false }\n"));
    Touchpoint__V1__Alert *a = s_wait_for(d, "call_incomplete:call/C-1", R);
    assert_string_equal(tp_test_evidence(a, "reason"), "rule_disabled");
    /* Off means off: an incomplete call raises nothing, while the other
     * rules go on (the watermark fires P-1's deadline after C-2). */
    s_submitted(d, "C-2", 0);
    tp_dfx_send_watermark(d, "W-1", T0 + 50 * HOUR);
    s_wait_for(d, "call_unsubmitted:call/P-1", F);
    assert_false(s_got(d, "call_incomplete:call/C-2", F));

    /* Back on: it starts afresh and sees new events. */
    assert_true(tp_dfx_reload(d, "event", NULL));
    s_submitted(d, "C-3", 0);
    s_wait_for(d, "call_incomplete:call/C-3", F);
}

static void test_restart_only_key_is_refused(void **state) {
    tp_dfx_t *d = *state = tp_dfx_start("event", REQUIRE_PRODUCTS);
    assert_false(tp_dfx_reload(d, "wall", REQUIRE_NOTES));
    TP_EXPECT_FILE_HAS(d->err, "clock cannot change on reload");
    /* Nothing of that file was applied: products are still required. */
    s_submitted(d, "C-1", TP_FIELD_NOTES);
    Touchpoint__V1__Alert *a = s_wait_for(d, "call_incomplete:call/C-1", F);
    assert_string_equal(tp_test_evidence(a, "missing"), "products");
}

/* The file tp_dfx_reload would write (REQUIRE_NOTES and `extra`), with
 * `from` replaced by `to` when from is not NULL (caller frees). */
static char *s_next_yaml(tp_dfx_t *d, const char *extra, const char *from, const char *to) {
    char *path = tp_path(d->dir, "next.yaml"), *yaml, *at, both[512];
    snprintf(both, sizeof both, "%s%s", REQUIRE_NOTES, extra ? extra : "");
    tp_dfx_write_config(d, path, "event", both);
    assert_non_null(yaml = tp_read_file(path));
    free(path);
    if (!from)
        return yaml;
    assert_non_null(at = strstr(yaml, from));
    char *next = NULL;
    assert_true(asprintf(&next, "%.*s%s%s", (int)(at - yaml), yaml, to, at + strlen(from)) > 0);
    free(yaml);
    return next;
}

/* A reload to `yaml` (which changes restart-only `key`; taken over) is
 * refused naming the key; nothing of the file is applied (products are
 * still required, not notes), and the daemon goes on serving. */
static void s_restart_only(tp_dfx_t *d, const char *key, char *yaml) {
    assert_false(tp_dfx_reload_yaml(d, yaml));
    free(yaml);
    char *log = tp_read_file(d->err), want[128];
    snprintf(want, sizeof want, "%s cannot change on reload; restart touchpointd", key);
    if (!strstr(log, want))
        fail_msg("no \"%s\" in:\n%s", want, log);
    free(log);
    static unsigned n;
    char            id[32], alert[64];
    snprintf(id, sizeof id, "R-%u", n++);
    snprintf(alert, sizeof alert, "call_incomplete:call/%s", id);
    s_submitted(d, id, TP_FIELD_NOTES);
    Touchpoint__V1__Alert *a = s_wait_for(d, alert, F);
    assert_string_equal(tp_test_evidence(a, "missing"), "products");
}

static void test_state_dir_is_restart_only(void **state) {
    tp_dfx_t *d = *state = tp_dfx_start("event", REQUIRE_PRODUCTS);
    s_restart_only(d, "state_dir", s_next_yaml(d, NULL, "/state\n", "/state-2\n"));
}

static void test_journal_enabled_is_restart_only(void **state) {
    tp_dfx_t *d = *state = tp_dfx_start("event", REQUIRE_PRODUCTS);
    s_restart_only(d, "journal.enabled",
                   s_next_yaml(d, "journal: { enabled: false }\n", NULL, NULL));
}

static void test_limits_are_restart_only(void **state) {
    tp_dfx_t *d = *state = tp_dfx_start("event", REQUIRE_PRODUCTS);
    s_restart_only(d, "limits.dedup_window",
                   s_next_yaml(d, "limits: { dedup_window: 1000 }\n", NULL, NULL));
    s_restart_only(d, "limits.max_sources",
                   s_next_yaml(d, "limits: { max_sources: 10 }\n", NULL, NULL));
}

/* Any nats key: switching JetStream mode on is refused (no NATS server
 * is needed to see that). */
static void test_nats_is_restart_only(void **state) {
    tp_dfx_t *d = *state = tp_dfx_start("event", REQUIRE_PRODUCTS);
    s_restart_only(d, "nats.enabled", s_next_yaml(d, "nats: { enabled: true }\n", NULL, NULL));
}

/* CURVE switched on by a reload: refused, the plain endpoints stay. */
static void test_curve_secret_key_file_is_restart_only(void **state) {
    tp_dfx_t *d = *state = tp_dfx_setup(true); /* key and allow-list files written */
    d->curve = false;                          /* ... but started plain */
    tp_dfx_spawn(d, "event", REQUIRE_PRODUCTS);
    d->curve = true; /* the reloaded file turns CURVE on */
    char *yaml = s_next_yaml(d, NULL, NULL, NULL);
    d->curve = false;
    assert_non_null(strstr(yaml, "secret_key_file"));
    s_restart_only(d, "curve.secret_key_file", yaml);
}

/* A deadline armed before a reload keeps the due time it was armed with:
 * call_unsubmitted at call_at + 48 h, reloaded to submit_within 1 h. Event
 * time moved past the new threshold but short of the old due time fires
 * nothing (a sentinel alert comes first); one past the old due time fires
 * it then. */
static void test_deadline_keeps_its_due_time_across_reload(void **state) {
    (void)state;
    const int64_t call_at = T0 + HOUR, due = call_at + 48 * HOUR;
    tp_dfx_t     *d =
        tp_dfx_start("event", REQUIRE_PRODUCTS "  call_unsubmitted: { submit_within: 48h }\n");
    s_planned(d, "P-1", call_at);
    /* Armed before the reload: the alert of a call sent after it proves it. */
    s_submitted(d, "ARMED", 0);
    s_wait_for(d, "call_incomplete:call/ARMED", F);
    tp_test_alerts_clear(&d->got);
    assert_true(
        tp_dfx_reload(d, "event", REQUIRE_PRODUCTS "  call_unsubmitted: { submit_within: 1h }\n"));
    tp_dfx_send_watermark(d, "W-1", due - 1);
    s_submitted(d, "SENTINEL", 0);
    tp_dfx_recv_alert(d, TP_WAIT_MS);
    assert_int_equal(d->got.n, 1);
    assert_string_equal(d->got.alerts[0]->alert_id, "call_incomplete:call/SENTINEL");
    tp_dfx_send_watermark(d, "W-2", due + 1);
    Touchpoint__V1__Alert *a = s_wait_for(d, "call_unsubmitted:call/P-1", F);
    assert_true(a->detected_at_ms >= due && a->detected_at_ms <= due + 1);
    /* A call planned after the reload gets the new threshold. */
    s_planned(d, "P-2", due);
    tp_dfx_send_watermark(d, "W-3", due + HOUR + 1);
    a = s_wait_for(d, "call_unsubmitted:call/P-2", F);
    assert_true(a->detected_at_ms >= due + HOUR && a->detected_at_ms <= due + HOUR + 1);
    tp_dfx_free(d);
}

static void test_failed_bind_rolls_back(void **state) {
    tp_dfx_t *d = *state = tp_dfx_start("event", REQUIRE_PRODUCTS);
    /* A valid file whose output cannot be bound (no such directory). */
    char *out = d->out_ep, bad[] = "ipc:///nonexistent-touchpointd-dir/out.sock";
    d->out_ep = bad;
    bool ok = tp_dfx_reload(d, "event", REQUIRE_NOTES);
    d->out_ep = out;
    assert_false(ok);
    TP_EXPECT_FILE_HAS(d->err, "Failed to bind output 'ipc:///nonexistent-touchpointd-dir");
    /* The old output was rebound, our subscriber reconnects to it, and the
     * old thresholds still apply. */
    tp_dfx_reconnect(d);
    s_submitted(d, "C-1", TP_FIELD_NOTES);
    Touchpoint__V1__Alert *a = s_wait_for(d, "call_incomplete:call/C-1", F);
    assert_string_equal(tp_test_evidence(a, "missing"), "products");
}

/* Reads datagrams until one contains `want`; returns how many WATCHDOG=1
 * pings came before it. */
static int s_notify_until(const tp_notify_t *n, const char *want) {
    int pings = 0;
    for (;;) {
        char msg[1024];
        tp_notify_recv(n, msg, sizeof msg);
        if (strstr(msg, want))
            return pings;
        pings += strcmp(msg, "WATCHDOG=1") == 0;
    }
}

static void test_sd_notify_protocol(void **state) {
    (void)state;
    tp_notify_t n;
    tp_notify_open(&n);
    /* A 200 ms watchdog means a ping every 100 ms. */
    tp_dfx_t *d = tp_dfx_start_notified(&n, "200000");

    char msg[1024];
    tp_notify_recv(&n, msg, sizeof msg);
    /* READY=1 comes first, once sockets are bound (the fixture's sync
     * proved they work), with a one-line status. */
    assert_non_null(strstr(msg, "READY=1\nSTATUS="));
    assert_non_null(strstr(msg, "open alerts"));
    /* The loop keeps pinging while it runs. */
    long long t0 = tp_now_ms();
    int       pings = 0;
    while (pings < 5) {
        tp_notify_recv(&n, msg, sizeof msg);
        pings += strcmp(msg, "WATCHDOG=1") == 0;
    }
    assert_true(tp_now_ms() - t0 < TP_WAIT_MS);

    assert_int_equal(tp_proc_signal(&d->proc, SIGHUP), 0);
    s_notify_until(&n, "RELOADING=1");
    s_notify_until(&n, "READY=1");
    /* STATUS= lines follow the daemon's counters. */
    s_notify_until(&n, "STATUS=");
    assert_int_equal(tp_proc_signal(&d->proc, SIGTERM), 0);
    s_notify_until(&n, "STOPPING=1");
    assert_int_equal(tp_proc_wait(&d->proc, TP_WAIT_MS), 0);
    tp_dfx_free(d);
    tp_notify_close(&n);
}

TP_TEST_MAIN(cmocka_unit_test_teardown(test_invalid_config_is_refused_with_file_line,
                                       tp_dfx_teardown),
             cmocka_unit_test_teardown(test_thresholds_change_and_state_survives, tp_dfx_teardown),
             cmocka_unit_test_teardown(test_endpoints_move_without_losing_state, tp_dfx_teardown),
             cmocka_unit_test_teardown(test_rule_switched_off_resolves_its_alerts, tp_dfx_teardown),
             cmocka_unit_test_teardown(test_restart_only_key_is_refused, tp_dfx_teardown),
             cmocka_unit_test_teardown(test_state_dir_is_restart_only, tp_dfx_teardown),
             cmocka_unit_test_teardown(test_journal_enabled_is_restart_only, tp_dfx_teardown),
             cmocka_unit_test_teardown(test_limits_are_restart_only, tp_dfx_teardown),
             cmocka_unit_test_teardown(test_nats_is_restart_only, tp_dfx_teardown),
             cmocka_unit_test_teardown(test_curve_secret_key_file_is_restart_only, tp_dfx_teardown),
             cmocka_unit_test(test_deadline_keeps_its_due_time_across_reload),
             cmocka_unit_test_teardown(test_failed_bind_rolls_back, tp_dfx_teardown),
             cmocka_unit_test(test_sd_notify_protocol))
