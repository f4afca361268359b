/* test_lua_daemon — Lua rules in the real daemon: their deadlines and
 * ctx:put state come back after a restart (rebuilt from the event log),
 * SIGHUP reloads a changed file and keeps the running version of a file
 * that no longer loads, --check-config names a syntax error's file:line
 * and a bad `where`'s file and key,
 * --replay runs them over an export, and a rule removed while the daemon
 * was down has the alerts it left open in a snapshot resolved. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sqlite3.h>
#include <unistd.h>
#include <zmq.h>

#include "tp_testdaemon.h"
#include "tp_testhttp.h"

#define T0        1767225600000LL
#define DAY       86400000LL
#define COMPLETED TOUCHPOINT__V1__STEP_STATE__STEP_STATE_COMPLETED
#define SUBMITTED TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_SUBMITTED

#define EXAMPLE TP_SOURCE_DIR "/examples/rules/compliance_after_signature.lua"

static char *s_lua_yaml(const char *file, const char *config) {
    char *yaml = NULL;
    assert_true(asprintf(&yaml, "lua_rules:\n  - file: %s\n    config: %s\n", file, config) > 0);
    return yaml;
}

/* The next alert, which must be `alert_id` with this status. */
static const Touchpoint__V1__Alert *s_next(tp_dfx_t *d, const char *alert_id, int status) {
    size_t before = d->got.n;
    assert_true(tp_dfx_recv_alert(d, TP_WAIT_MS));
    const Touchpoint__V1__Alert *a = d->got.alerts[before];
    assert_string_equal(a->alert_id, alert_id);
    assert_int_equal(a->status, status);
    return a;
}

static void s_sign(tp_dfx_t *d, const char *eid, const char *contract, int64_t at) {
    tp_dfx_send_step(d, &(tp_test_step_t){ .event_id = eid,
                                           .at_ms = at,
                                           .contract_id = contract,
                                           .step = "CONTRACT_SIGNED",
                                           .state = COMPLETED });
}

/* The deadline armed before the restart fires after it, with the state
 * the rule put (on_deadline reads it back to fire). */
static void test_deadline_and_state_survive_restart(void **state) {
    (void)state;
    char     *extra = s_lua_yaml(EXAMPLE, "{ within: 5d }");
    tp_dfx_t *d = tp_dfx_start("event", extra);
    s_sign(d, "sig-1", "K-1", T0);
    /* sentinel: K-2 signed and its deadline passed before the restart */
    s_sign(d, "sig-2", "K-2", T0 + 1);
    tp_dfx_send_watermark(d, "wm-0", T0 + 5 * DAY + 2);
    s_next(d, "compliance_after_signature:contract/K-1",
           TOUCHPOINT__V1__ALERT_STATUS__ALERT_STATUS_FIRING);
    s_next(d, "compliance_after_signature:contract/K-2",
           TOUCHPOINT__V1__ALERT_STATUS__ALERT_STATUS_FIRING);
    /* K-3 signed; its deadline is still armed when the daemon stops. The
     * approval of K-2 after it is the sentinel: its RESOLVED says the
     * daemon has taken sig-3 before it is stopped. */
    s_sign(d, "sig-3", "K-3", T0 + 2 * DAY);
    tp_dfx_send_step(d, &(tp_test_step_t){ .event_id = "ap-2",
                                           .at_ms = T0 + 6 * DAY,
                                           .contract_id = "K-2",
                                           .step = "COMPLIANCE_APPROVAL",
                                           .state = COMPLETED });
    s_next(d, "compliance_after_signature:contract/K-2",
           TOUCHPOINT__V1__ALERT_STATUS__ALERT_STATUS_RESOLVED);
    free(tp_dfx_stop(d));
    tp_dfx_restart(d, NULL);
    tp_test_alerts_clear(&d->got);
    tp_dfx_send_watermark(d, "wm-1", T0 + 7 * DAY + 1);
    const Touchpoint__V1__Alert *a = s_next(d, "compliance_after_signature:contract/K-3",
                                            TOUCHPOINT__V1__ALERT_STATUS__ALERT_STATUS_FIRING);
    assert_string_equal(a->hcp_id, "HCP-1");
    /* the alerts of before the restart are not raised again */
    tp_dfx_send_step(d, &(tp_test_step_t){ .event_id = "ap-1",
                                           .at_ms = T0 + 8 * DAY,
                                           .contract_id = "K-1",
                                           .step = "COMPLIANCE_APPROVAL",
                                           .state = COMPLETED });
    s_next(d, "compliance_after_signature:contract/K-1",
           TOUCHPOINT__V1__ALERT_STATUS__ALERT_STATUS_RESOLVED);
    assert_int_equal(d->got.n, 2);
    free(tp_dfx_stop(d));
    tp_dfx_free(d);
    free(extra);
}

static const char s_v1[] =
    "return { name = 'hello', kind = 'accountability', events = { 'call' },\n"
    "  on_event = function(ev, ctx)\n"
    "    if ev.call.call_id:sub(1, 2) ~= 'C-' then return end -- not the fixture's probes\n"
    "    ctx:fire{ subject = 'call/' .. ev.call.call_id, summary = 'v1' }\n"
    "  end }\n";
static const char s_v2[] =
    "return { name = 'hello', kind = 'accountability', events = { 'call' },\n"
    "  on_event = function(ev, ctx)\n"
    "    if ev.call.call_id:sub(1, 2) ~= 'C-' then return end -- not the fixture's probes\n"
    "    ctx:fire{ subject = 'call/' .. ev.call.call_id, summary = 'v2' }\n"
    "  end }\n";
static const char s_broken[] = "return { name = 'hello',\n  kind = = 'accountability' }\n";

static void s_call(tp_dfx_t *d, const char *id) {
    tp_dfx_send_call(
        d, &(tp_test_call_t){
               .event_id = id, .at_ms = T0, .call_id = id, .status = SUBMITTED, .fields = 0xf });
}

static void test_sighup_reload(void **state) {
    (void)state;
    tp_dfx_t *d = tp_dfx_setup(false);
    char     *file = tp_path(d->dir, "hello.lua");
    assert_int_equal(tp_write_file(file, s_v1), 0);
    char *extra = s_lua_yaml(file, "{}");
    tp_dfx_spawn(d, "event", extra);
    s_call(d, "C-1");
    assert_string_equal(s_next(d, "hello:call/C-1", 1)->summary, "v1");
    /* a file that no longer loads: the reload goes through, v1 keeps running */
    assert_int_equal(tp_write_file(file, s_broken), 0);
    assert_true(tp_dfx_reload(d, "event", extra));
    s_call(d, "C-2");
    assert_string_equal(s_next(d, "hello:call/C-2", 1)->summary, "v1");
    /* a good new version replaces it; its open alerts stay open (dedup) */
    assert_int_equal(tp_write_file(file, s_v2), 0);
    assert_true(tp_dfx_reload(d, "event", extra));
    s_call(d, "C-1");
    s_call(d, "C-3");
    assert_string_equal(s_next(d, "hello:call/C-3", 1)->summary, "v2");
    char *log = tp_dfx_stop(d);
    assert_non_null(strstr(log, "keeping the running version"));
    assert_non_null(strstr(log, "hello.lua:2:"));
    free(log);
    tp_dfx_free(d);
    free(extra);
    free(file);
}

static int s_run(const char *const argv[], const char *out, const char *err) {
    tp_proc_t p;
    assert_int_equal(tp_proc_spawn(&p, argv, NULL, out, err), 0);
    int code = tp_proc_wait(&p, 20000);
    if (code < 0) {
        tp_proc_reap(&p);
        fail_msg("touchpointd did not exit");
    }
    return code;
}

static void test_check_config_names_file_and_line(void **state) {
    (void)state;
    char *dir = tp_tmpdir(), *cfg = tp_path(dir, "t.yaml"), *lua = tp_path(dir, "bad.lua");
    char *out = tp_path(dir, "out"), *err = tp_path(dir, "err");
    char *yaml = s_lua_yaml(lua, "{}");
    assert_int_equal(tp_write_file(cfg, yaml), 0);
    assert_int_equal(tp_write_file(lua, s_broken), 0);
    const char *argv[] = { TP_DAEMON_BIN, "--check-config", "--config", cfg, NULL };
    assert_int_equal(s_run(argv, out, err), 1);
    char *text = tp_read_file(err);
    char  want[512];
    snprintf(want, sizeof want, "%s:2:", lua);
    if (!strstr(text, want))
        fail_msg("stderr has no %s:\n%s", want, text);
    free(text);
    assert_int_equal(tp_write_file(lua, s_v1), 0);
    assert_int_equal(s_run(argv, out, err), 0);
    /* a `where` that could only be a mistake: named by file and key */
    assert_int_equal(tp_write_file(lua, "return { name = 'w', kind = 'friction',\n"
                                        "  events = { 'call' },\n"
                                        "  where = { ['call.status'] = 'SUBMITED' },\n"
                                        "  on_event = function(ev, ctx) end }\n"),
                     0);
    assert_int_equal(s_run(argv, out, err), 1);
    text = tp_read_file(err);
    snprintf(want, sizeof want, "%s: where[\"call.status\"]: \"SUBMITED\" is not a value", lua);
    if (!strstr(text, want))
        fail_msg("stderr has no %s:\n%s", want, text);
    free(text);
    free(yaml), free(dir), free(cfg), free(lua), free(out), free(err);
}

static void test_replay_export(void **state) {
    (void)state;
    char *dir = tp_tmpdir(), *cfg = tp_path(dir, "t.yaml"), *in = tp_path(dir, "in.jsonl");
    char *out = tp_path(dir, "out"), *err = tp_path(dir, "err");
    char *yaml = NULL, *rules = s_lua_yaml(EXAMPLE, "{ within: 5d }");
    assert_true(asprintf(&yaml, "clock: event\nstate_dir: %s/state\n%s", dir, rules) > 0);
    free(rules);
    assert_int_equal(tp_write_file(cfg, yaml), 0);
    assert_int_equal(
        tp_write_file(in, "{\"event_id\":\"s1\",\"source\":\"x\",\"occurred_at_ms\":1767225600000,"
                          "\"contracting\":{\"contract_id\":\"K-9\",\"hcp_id\":\"H-9\",\"step\":"
                          "\"CONTRACT_SIGNED\",\"state\":\"STEP_STATE_COMPLETED\",\"at_ms\":"
                          "1767225600000}}\n"
                          "{\"event_id\":\"w1\",\"source\":\"x\",\"occurred_at_ms\":1767744000001,"
                          "\"watermark\":{\"now_ms\":1767744000001}}\n"),
        0);
    const char *argv[] = { TP_DAEMON_BIN, "--replay", in, "--config", cfg, NULL };
    int         code = s_run(argv, out, err);
    char       *text = tp_read_file(out), *log = tp_read_file(err);
    if (code != 0 || !strstr(text, "compliance_after_signature:contract/K-9"))
        fail_msg("exit %d; stdout:\n%s\nstderr:\n%s", code, text, log);
    free(text), free(log), free(yaml), free(dir), free(cfg), free(in), free(out), free(err);
}

/* An abandoned call (bad.lua's on_event is `body`) shows in /metrics (per
 * rule and `reason`) and /status (its last message, containing `msg`); the
 * daemon and the other Lua rule go on. */
static void s_abandoned_in_daemon(const char *body, const char *reason, const char *msg) {
    tp_dfx_t *d = tp_dfx_setup(false);
    char     *bad = tp_path(d->dir, "bad.lua"), *good = tp_path(d->dir, "hello.lua");
    char      text[512], want[160];
    snprintf(text, sizeof text,
             "return { name = 'bad', kind = 'friction', events = { 'call' },\n"
             "  on_event = function(ev, ctx)\n    %s\n  end }\n",
             body);
    assert_int_equal(tp_write_file(bad, text), 0);
    assert_int_equal(tp_write_file(good, s_v1), 0);
    char *extra = NULL;
    assert_true(asprintf(&extra, "lua_rules: [{ file: %s }, { file: %s }]\n", bad, good) > 0);
    d->http = true;
    tp_dfx_spawn(d, "event", extra);
    s_call(d, "C-1");
    s_next(d, "hello:call/C-1", 1); /* sentinel: the call went through both rules */
    tp_test_resp_t r = tp_test_http_request(d->http_port, EVHTTP_REQ_GET, "/metrics");
    assert_int_equal(r.code, 200);
    /* every probe call and C-1 each were abandoned in bad.lua: at least one */
    snprintf(want, sizeof want, "touchpointd_lua_rule_errors_total{rule=\"bad\",reason=\"%s\"} ",
             reason);
    const char *line = strstr(r.body, want);
    if (!line)
        fail_msg("no %s in:\n%s", want, r.body);
    assert_true(atoi(line + strlen(want)) >= 1);
    snprintf(want, sizeof want, "touchpointd_lua_rule_errors_total{rule=\"hello\",reason=\"%s\"} 0",
             reason);
    assert_non_null(strstr(r.body, want));
    tp_test_resp_free(&r);
    r = tp_test_http_request(d->http_port, EVHTTP_REQ_GET, "/status");
    assert_int_equal(r.code, 200);
    if (!strstr(r.body, msg))
        fail_msg("no \"%s\" in /status:\n%s", msg,
                 strstr(r.body, "lua_rules") ? strstr(r.body, "lua_rules") : r.body);
    tp_test_resp_free(&r);
    free(tp_dfx_stop(d));
    tp_dfx_free(d);
    free(extra), free(bad), free(good);
}

static void test_errors_in_metrics_and_status(void **state) {
    (void)state;
    s_abandoned_in_daemon("error('boom')", "error", "bad.lua:3: boom");
}

/* In the daemon too (the rule runs on its event loop's thread), an endless
 * loop is found by the watchdog and abandoned for its instruction budget. */
static void test_endless_loop_in_daemon(void **state) {
    (void)state;
    s_abandoned_in_daemon("while true do end", "instructions", "instruction budget");
}


/* The event log's last position (the daemon logs every accepted event). */
static uint64_t s_log_last(const tp_dfx_t *d) {
    char    *path = tp_path(d->dir, "state/journal.db");
    sqlite3 *db;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT MAX(seq) FROM events", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    uint64_t last = (uint64_t)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    free(path);
    return last;
}

/* Waits (with a deadline) for a snapshot in place at position >= min. */
static void s_wait_snapshot(const tp_dfx_t *d, uint64_t min) {
    char     *dir = tp_path(d->dir, "state");
    long long deadline = tp_now_ms() + TP_WAIT_MS;
    for (bool found = false; !found;) {
        DIR *dh = opendir(dir);
        assert_non_null(dh);
        for (struct dirent *de; (de = readdir(dh));) {
            unsigned long long pos;
            char               tail[32];
            found |= sscanf(de->d_name, "snapshot-%llu%31s", &pos, tail) == 2 &&
                     !strcmp(tail, ".tpsnap") && pos >= min;
        }
        closedir(dh);
        assert_true(tp_now_ms() < deadline);
        if (!found)
            usleep(5000); /* the snapshot is a file a forked child writes: poll it */
    }
    free(dir);
}

typedef struct {
    size_t                      n;
    Touchpoint__V1__AlertStatus status[8];
    char                        id[8][64], reason[8][32];
} replayed_t;

static void s_keep(void *ctx, const Touchpoint__V1__Alert *a) {
    replayed_t *r = ctx;
    assert_true(r->n < 8);
    r->status[r->n] = a->status;
    snprintf(r->id[r->n], sizeof r->id[0], "%s", a->alert_id);
    const char *reason = tp_test_evidence(a, "reason");
    snprintf(r->reason[r->n], sizeof r->reason[0], "%s", reason ? reason : "");
    r->n++;
}

/* A Lua rule removed from the config while the daemon was down: the
 * restart loads a snapshot holding its open alert, and once the state is
 * rebuilt that alert is RESOLVED (reason rule_disabled), as a SIGHUP
 * unlisting the rule would have done; journaled, so the replay endpoint
 * serves it after the FIRING. */
static void test_rule_removed_while_down(void **state) {
    (void)state;
    tp_dfx_t *d = tp_dfx_setup(false);
    char     *file = tp_path(d->dir, "hello.lua");
    assert_int_equal(tp_write_file(file, s_v1), 0);
    char             *rules = s_lua_yaml(file, "{}"), *extra = NULL;
    static const char snap[] =
        "snapshot: { every: 1, interval: 50ms, keep: 1, log_retention: 0ms }\n";
    assert_true(asprintf(&extra, "%s%s", snap, rules) > 0);
    tp_dfx_spawn(d, "event", extra);
    s_call(d, "C-1");
    uint64_t fired = s_next(d, "hello:call/C-1", 1)->sequence;
    /* the snapshot holds the open alert, and the log behind it is gone */
    s_wait_snapshot(d, s_log_last(d));
    free(tp_dfx_stop(d));
    tp_dfx_write_config(d, d->cfg, "event", snap);
    tp_dfx_restart(d, NULL);
    void *s = zmq_socket(d->zctx, ZMQ_DEALER);
    int   zero = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    assert_int_equal(zmq_connect(s, d->replay_ep), 0);
    char after[32], end[96];
    snprintf(after, sizeof after, "%llu", (unsigned long long)fired);
    assert_true(zmq_send(s, "REPLAY", 6, ZMQ_SNDMORE) >= 0);
    assert_true(zmq_send(s, after, strlen(after), 0) >= 0);
    replayed_t got = { 0 };
    tp_dfx_read_replay(s, s_keep, &got, end, sizeof end);
    zmq_close(s);
    /* after the FIRING: its RESOLVED, then the restart's sync probes */
    assert_true(got.n >= 1);
    assert_string_equal(got.id[0], "hello:call/C-1");
    assert_int_equal(got.status[0], TOUCHPOINT__V1__ALERT_STATUS__ALERT_STATUS_RESOLVED);
    assert_string_equal(got.reason[0], "rule_disabled");
    char       *log = tp_dfx_stop(d);
    const char *loaded = strstr(log, "Loaded the snapshot"),
               *rebuilt = strstr(log, "Rule hello switched off while the daemon was down: 1");
    assert_non_null(loaded);
    assert_non_null(rebuilt);
    assert_true(loaded < rebuilt);
    free(log);
    tp_dfx_free(d);
    free(extra), free(rules), free(file);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deadline_and_state_survive_restart),
        cmocka_unit_test(test_sighup_reload),
        cmocka_unit_test(test_check_config_names_file_and_line),
        cmocka_unit_test(test_replay_export),
        cmocka_unit_test(test_errors_in_metrics_and_status),
        cmocka_unit_test(test_endless_loop_in_daemon),
        cmocka_unit_test(test_rule_removed_while_down),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
