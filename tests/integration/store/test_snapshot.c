/* test_snapshot — bounded restart: the engine's state from the newest good
 * snapshot plus the event log after it. Real daemon, real sockets, real
 * SQLite file, real snapshot files; every wait has a deadline.
 *
 * Each test runs the same story: before the restart an incomplete call
 * fires (an open alert), a planned call arms a deadline, and a sequenced
 * source is seen; after it, a resend of an old event must be a duplicate,
 * the call's correction must resolve the alert, and event time passing the
 * deadline must fire it. The alerts after the restart are compared, byte
 * for byte (sequence numbers aside: the fixture's sync probes take some),
 * with the same story restarted by a full replay of the log without
 * snapshots. snapshot.keep 1 with no log retention deletes the log behind
 * the snapshot, so a state module missing from it shows as a wrong alert.
 * The Lua rules' story (their stores and deadlines) is told the same way. */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <sqlite3.h>

#include "tp_config.h"
#include "tp_contract.h"
#include "tp_testdaemon.h"

#define T0        1767225600000LL
#define SUBMITTED TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_SUBMITTED
#define PLANNED   TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_PLANNED
#define ALL_FIELDS                                                               \
    (TP_FIELD_PRODUCTS | TP_FIELD_TOPICS | TP_FIELD_NOTES | TP_FIELD_NEXT_STEP | \
     TP_FIELD_ATTENDEES | TP_FIELD_ACCOUNT_ID | TP_FIELD_TERRITORY)

/* timeout: a writer hung on a lock another thread held at the fork (seen
 * under ASan, whose allocator is not fork-safe) is replaced in 3 s. */
#define SNAP_YAML(keep) \
    "snapshot: { every: 1, interval: 50ms, keep: " #keep ", log_retention: 0ms, timeout: 3s }\n"

typedef struct {
    size_t  n;
    uint8_t buf[16][2048];
    size_t  len[16];
} packed_t;

static packed_t s_reference;

static const tp_test_call_t s_planned = { .event_id = "p1",
                                          .source = "veeva",
                                          .sequence = 1,
                                          .at_ms = T0,
                                          .call_id = "C-R",
                                          .status = PLANNED,
                                          .call_at_ms = T0 + 3600000 };
static const tp_test_call_t s_incomplete = { .event_id = "i1",
                                             .source = "veeva",
                                             .sequence = 2,
                                             .at_ms = T0 + 1,
                                             .call_id = "C-I",
                                             .status = SUBMITTED };

/* A detractor nobody calls back (follow_up_missing's own state; it also
 * raises negative_feedback) and a planned call (a deadline). */
static void s_before_1(tp_dfx_t *d) {
    tp_test_feedback_t fb = {
        .event_id = "fb1", .at_ms = T0, .hcp_id = "HCP-F", .nps = 2, .effort = -1
    };
    tp_dfx_send_feedback(d, &fb);
    tp_dfx_send_call(d, &s_planned);
    assert_true(tp_dfx_recv_alert(d, TP_WAIT_MS));
    assert_string_equal(d->got.alerts[0]->alert_id, "negative_feedback:feedback/fb1");
    tp_test_alerts_clear(&d->got);
}

/* An incomplete call: an open alert. */
static void s_before_2(tp_dfx_t *d) {
    tp_dfx_send_call(d, &s_incomplete);
    assert_true(tp_dfx_recv_alert(d, TP_WAIT_MS));
    assert_string_equal(d->got.alerts[0]->alert_id, "call_incomplete:call/C-I");
    tp_test_alerts_clear(&d->got);
}

static void s_before(tp_dfx_t *d) {
    s_before_1(d);
    s_before_2(d);
}

/* The alerts received, packed with their sequence cleared, into out. */
static void s_pack_all(tp_dfx_t *d, packed_t *out) {
    out->n = 0;
    for (size_t i = 0; i < d->got.n; i++) {
        Touchpoint__V1__Alert *a = d->got.alerts[i];
        uint64_t               seq = a->sequence;
        a->sequence = 0;
        out->len[i] = protobuf_c_message_get_packed_size(&a->base);
        assert_true(out->len[i] <= sizeof out->buf[0]);
        protobuf_c_message_pack(&a->base, out->buf[i]);
        a->sequence = seq;
        out->n++;
    }
}

/* After the restart: what it must have kept, as alerts (packed, their
 * sequence cleared) into out. */
static void s_after(tp_dfx_t *d, packed_t *out) {
    tp_dfx_send_call(d, &s_incomplete); /* a resend: a duplicate */
    tp_test_call_t fixed = s_incomplete;
    fixed.event_id = "i2";
    fixed.sequence = 3;
    fixed.at_ms = T0 + 2;
    fixed.fields = ALL_FIELDS;
    tp_dfx_send_call(d, &fixed);
    assert_true(tp_dfx_recv_alert(d, TP_WAIT_MS));
    /* Eight days on: the planned call's deadline (49 h) and the
     * detractor's (7 d) have both passed. */
    tp_dfx_send_watermark(d, "wm", T0 + 8 * 86400000LL);
    for (int i = 0; i < 3; i++)
        assert_true(tp_dfx_recv_alert(d, TP_WAIT_MS));
    tp_dfx_expect_nothing_more(d);
    assert_int_equal(d->got.n, 4);
    assert_string_equal(d->got.alerts[0]->alert_id, "call_incomplete:call/C-I");
    assert_int_equal(d->got.alerts[0]->status, TOUCHPOINT__V1__ALERT_STATUS__ALERT_STATUS_RESOLVED);
    assert_string_equal(d->got.alerts[1]->alert_id, "call_unsubmitted:call/C-R");
    assert_string_equal(d->got.alerts[2]->alert_id, "follow_up_missing:feedback/fb1");
    /* negative_feedback's FIRING closes after its own time (a fact). */
    assert_string_equal(d->got.alerts[3]->alert_id, "negative_feedback:feedback/fb1");
    assert_int_equal(d->got.alerts[3]->status, TOUCHPOINT__V1__ALERT_STATUS__ALERT_STATUS_RESOLVED);
    s_pack_all(d, out);
    char *log = tp_dfx_stop(d);
    assert_int_equal(tp_dfx_stat(log, "duplicates"), 1);
    assert_int_equal(tp_dfx_stat(log, "seq_gaps"), 0);
    free(log);
}

static void s_expect_same(const packed_t *got, const packed_t *want) {
    assert_int_equal(got->n, want->n);
    for (size_t i = 0; i < got->n; i++) {
        assert_int_equal(got->len[i], want->len[i]);
        assert_memory_equal(got->buf[i], want->buf[i], got->len[i]);
    }
}

static char *s_state_dir(const tp_dfx_t *d) {
    char *p;
    assert_true(asprintf(&p, "%s/state", d->dir) > 0);
    return p;
}

/* Positions of the snapshots in place (newest first, at most max) and how
 * many files end in `ext` (".tmp", ".stall"). */
static size_t s_snapshots(const tp_dfx_t *d, uint64_t *pos, size_t max, const char *ext,
                          size_t *ret_ext) {
    char *dir = s_state_dir(d);
    DIR  *dh = opendir(dir);
    assert_non_null(dh);
    size_t         n = 0, n_ext = 0;
    struct dirent *de;
    while ((de = readdir(dh))) {
        size_t l = strlen(de->d_name);
        if (ext && l > strlen(ext) && strcmp(de->d_name + l - strlen(ext), ext) == 0)
            n_ext++;
        unsigned long long p;
        char               tail[32];
        if (sscanf(de->d_name, "snapshot-%llu%31s", &p, tail) == 2 &&
            strcmp(tail, ".tpsnap") == 0 && n < max) {
            size_t i = n++;
            while (i > 0 && pos[i - 1] < p) {
                pos[i] = pos[i - 1];
                i--;
            }
            pos[i] = p;
        }
    }
    closedir(dh);
    free(dir);
    if (ret_ext)
        *ret_ext = n_ext;
    return n;
}

/* Waits (with a deadline) until a snapshot at position >= min is in place;
 * returns the newest position. */
static uint64_t s_wait_snapshot(const tp_dfx_t *d, uint64_t min) {
    long long deadline = tp_now_ms() + TP_WAIT_MS;
    for (;;) {
        uint64_t pos[8];
        if (s_snapshots(d, pos, 8, NULL, NULL) > 0 && pos[0] >= min)
            return pos[0];
        assert_true(tp_now_ms() < deadline);
        usleep(5000);
    }
}

/* The event log's last position (the daemon logs every accepted event). */
static uint64_t s_log_rows(const tp_dfx_t *d, uint64_t *ret_last) {
    char    *path;
    sqlite3 *db;
    assert_true(asprintf(&path, "%s/state/journal.db", d->dir) > 0);
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT COUNT(*), MAX(seq) FROM events", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    uint64_t n = (uint64_t)sqlite3_column_int64(st, 0);
    *ret_last = (uint64_t)sqlite3_column_int64(st, 1);
    sqlite3_finalize(st);
    sqlite3_close(db);
    free(path);
    return n;
}

/* Every event so far (probes included) is logged: waits for the snapshot
 * at the last position, then for the log cut behind it; returns it. */
static uint64_t s_wait_log_cut(const tp_dfx_t *d) {
    uint64_t  last;
    long long deadline = tp_now_ms() + TP_WAIT_MS;
    s_log_rows(d, &last);
    uint64_t pos = s_wait_snapshot(d, last);
    while (s_log_rows(d, &last) > 1 || last != pos) {
        assert_true(tp_now_ms() < deadline);
        usleep(5000);
    }
    return pos;
}

static void s_kill(tp_dfx_t *d) {
    assert_int_equal(tp_proc_signal(&d->proc, SIGKILL), 0);
    assert_int_equal(tp_proc_wait(&d->proc, TP_WAIT_MS), 128 + SIGKILL);
}

static bool s_logged(const tp_dfx_t *d, const char *what) {
    char *text = tp_read_file(d->err);
    bool  yes = text && strstr(text, what);
    free(text);
    return yes;
}

/* The restart loaded the snapshot at pos. */
static void s_expect_loaded(const tp_dfx_t *d, uint64_t pos) {
    char want[96];
    snprintf(want, sizeof want, "Loaded the snapshot at event-log position %llu",
             (unsigned long long)pos);
    assert_true(s_logged(d, want));
}

/* The reference: the same story, restarted from the full log. */
static int s_setup(void **state) {
    (void)state;
    tp_dfx_t *d = tp_dfx_start("event", "snapshot: { enabled: false }\n");
    s_before(d);
    s_kill(d);
    tp_dfx_restart(d, NULL);
    assert_false(s_logged(d, "Loaded the snapshot"));
    s_after(d, &s_reference);
    tp_dfx_free(d);
    return 0;
}

/* Killed after a snapshot holds everything: state from it alone (the log
 * behind it deleted), the same alerts as the full replay. */
static void test_restart_from_snapshot_alone(void **state) {
    (void)state;
    tp_dfx_t *d = tp_dfx_start("event", SNAP_YAML(1));
    s_before(d);
    uint64_t pos = s_wait_log_cut(d);
    /* What the snapshot cost the loop is in its log line. */
    assert_true(s_logged(d, "loop lag meanwhile p99"));
    s_kill(d);
    tp_dfx_restart(d, NULL);
    s_expect_loaded(d, pos);
    packed_t got;
    s_after(d, &got);
    s_expect_same(&got, &s_reference);
    tp_dfx_free(d);
}

/* The newest snapshot is corrupt: logged, set aside, the one before it
 * loaded and the log after it replayed. */
static void test_corrupt_newest_falls_back(void **state) {
    (void)state;
    tp_dfx_t *d = tp_dfx_start("event", SNAP_YAML(2));
    s_before_1(d);
    uint64_t last;
    s_log_rows(d, &last);
    uint64_t older = s_wait_snapshot(d, last);
    s_before_2(d);
    s_log_rows(d, &last);
    uint64_t newer = s_wait_snapshot(d, last);
    assert_true(newer > older);
    s_kill(d);
    /* Two kept (keep: 2; a third if the kill fell between putting the
     * newest in place and deleting the oldest): flip one byte in the
     * newest one's body; the one before it must be loaded. */
    uint64_t pos[4];
    size_t   n = s_snapshots(d, pos, 4, NULL, NULL);
    assert_true(n == 2 || n == 3);
    assert_int_equal(pos[0], newer);
    older = pos[1];
    char *path;
    assert_true(
        asprintf(&path, "%s/state/snapshot-%020llu.tpsnap", d->dir, (unsigned long long)newer) > 0);
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    assert_int_equal(fseek(f, 60, SEEK_SET), 0);
    int c = fgetc(f);
    assert_int_equal(fseek(f, 60, SEEK_SET), 0);
    fputc(c ^ 0x40, f);
    fclose(f);
    free(path);

    tp_dfx_restart(d, NULL);
    assert_true(s_logged(d, "cannot be used (corrupt, truncated or wrong checksum)"));
    s_expect_loaded(d, older);
    packed_t got;
    s_after(d, &got);
    s_expect_same(&got, &s_reference);
    tp_dfx_free(d);
}

/* SIGKILL while the child writes: the child dies with the daemon, the
 * half-written file is never loaded (removed at start), the restart is a
 * full replay, nothing is lost. */
static void test_kill_while_snapshot_is_written(void **state) {
    (void)state;
    setenv("TOUCHPOINTD_TEST_SNAPSHOT_STALL", "1", 1);
    tp_dfx_t *d = tp_dfx_start("event", SNAP_YAML(1));
    unsetenv("TOUCHPOINTD_TEST_SNAPSHOT_STALL");
    s_before(d);
    long long deadline = tp_now_ms() + TP_WAIT_MS;
    size_t    stalls = 0;
    while (s_snapshots(d, NULL, 0, ".stall", &stalls), stalls == 0) {
        assert_true(tp_now_ms() < deadline);
        usleep(5000);
    }
    s_kill(d);
    /* The stalled child: its pid is in the .stall file. */
    char *dir = s_state_dir(d);
    DIR  *dh = opendir(dir);
    assert_non_null(dh);
    struct dirent *de;
    char           stall[256] = "";
    while ((de = readdir(dh))) {
        size_t l = strlen(de->d_name);
        if (l > 6 && strcmp(de->d_name + l - 6, ".stall") == 0) {
            snprintf(stall, sizeof stall, "%s", de->d_name);
            char *p;
            assert_true(asprintf(&p, "%s/%s", dir, de->d_name) > 0);
            char *text = tp_read_file(p);
            assert_non_null(text);
            pid_t child = (pid_t)atoi(text);
            assert_true(child > 0);
            /* The writer dies with the daemon (else it would hold the
             * state directory's lock): gone or a zombie soon. */
            char status[64];
            snprintf(status, sizeof status, "/proc/%d/status", (int)child);
            for (;;) {
                char *st = tp_read_file(status);
                bool  gone = !st || strstr(st, "State:\tZ");
                free(st);
                if (gone)
                    break;
                assert_true(tp_now_ms() < deadline);
                usleep(5000);
            }
            free(text);
            free(p);
        }
    }
    closedir(dh);
    assert_int_equal(s_snapshots(d, NULL, 0, NULL, NULL), 0);
    char *tmp_path;
    assert_true(asprintf(&tmp_path, "%s/%s", dir, stall) > 0);
    tmp_path[strlen(tmp_path) - strlen(".stall")] = '\0';
    assert_int_equal(access(tmp_path, F_OK), 0);
    free(dir);

    tp_dfx_restart(d, NULL);
    assert_false(s_logged(d, "Loaded the snapshot"));
    /* The half-written file is gone (the new run writes its own). */
    assert_int_equal(access(tmp_path, F_OK), -1);
    free(tmp_path);
    packed_t got;
    s_after(d, &got);
    s_expect_same(&got, &s_reference);
    tp_dfx_free(d);
}

/* SIGKILL inside the truncation of the log behind the oldest snapshot
 * (rows deleted, not committed: the test hook stops the writer there):
 * the log is as it was, the restart loads the snapshot, the alerts are
 * those of the full replay (nothing lost, nothing twice: the resend is a
 * duplicate), and the next snapshot cuts the log after all. */
static void test_kill_while_log_is_truncated(void **state) {
    (void)state;
    char arm[512], stall[600];
    snprintf(arm, sizeof arm, "/tmp/test_snapshot.%d.truncate", (int)getpid());
    snprintf(stall, sizeof stall, "%s.stall", arm);
    unlink(arm);
    unlink(stall);
    setenv("TOUCHPOINTD_TEST_TRUNCATE_STALL", arm, 1);
    tp_dfx_t *d = tp_dfx_start("event", SNAP_YAML(1));
    unsetenv("TOUCHPOINTD_TEST_TRUNCATE_STALL");
    s_before_1(d);
    uint64_t before = s_wait_log_cut(d); /* the truncations before the hook run as usual */
    FILE    *f = fopen(arm, "w");
    assert_non_null(f);
    fclose(f);
    s_before_2(d);
    /* The next snapshot's truncation stops half-way. */
    long long deadline = tp_now_ms() + TP_WAIT_MS;
    while (access(stall, F_OK) != 0) {
        assert_true(tp_now_ms() < deadline);
        usleep(5000);
    }
    uint64_t pos[4];
    assert_int_equal(s_snapshots(d, pos, 4, NULL, NULL), 1);
    assert_true(pos[0] > before);
    s_kill(d);
    unlink(arm);
    unlink(stall);
    /* Rolled back: the log still holds the records the truncation was
     * deleting, from before the first snapshot's position on. */
    uint64_t last, rows = s_log_rows(d, &last);
    assert_true(last >= pos[0]);
    assert_true(rows >= last - before + 1);
    assert_true(rows > 1);

    tp_dfx_restart(d, NULL);
    s_expect_loaded(d, pos[0]);
    s_wait_log_cut(d);
    packed_t got;
    s_after(d, &got);
    s_expect_same(&got, &s_reference);
    tp_dfx_free(d);
}

/* ---- Lua rules: their ctx:put stores and ctx:arm deadlines ----
 * contact_frequency (at most 20 calls of an HCP in 10 days: the fixture's
 * probes at T0 never reach it, and leave the window once event time is
 * 100 days on) and compliance_after_signature (5 days), the built-in
 * rules off but call_incomplete (the probes). Before the restart: HCP-L's
 * 21st call fires (its calls in the store, a deadline at the window's
 * end) and K-L is signed (the signature in the store, a deadline). */
#define T1  (T0 + 100 * DAY)
#define DAY 86400000LL
#define LUA_YAML(snapshot)                                                                  \
    snapshot "lua_rules:\n"                                                                 \
             "  - { file: " TP_SOURCE_DIR "/examples/rules/contact_frequency.lua,"          \
             " config: { max_calls: 20, window: 10d } }\n"                                  \
             "  - { file: " TP_SOURCE_DIR "/examples/rules/compliance_after_signature.lua," \
             " config: { within: 5d } }\n"                                                  \
             "rules:\n"                                                                     \
             "  call_unsubmitted: { enabled: false }\n  call_late: { enabled: false }\n"    \
             "  follow_up_missing: { enabled: false }\n"                                    \
             "  uncoordinated_contact: { enabled: false }\n"                                \
             "  channel_mismatch: { enabled: false }\n  step_slow: { enabled: false }\n"    \
             "  case_stalled: { enabled: false }\n  rework: { enabled: false }\n"           \
             "  handoffs: { enabled: false }\n  hcp_burden: { enabled: false }\n"           \
             "  cycle_time: { enabled: false }\n  negative_feedback: { enabled: false }\n"

static void s_lua_call(tp_dfx_t *d, int i, int64_t at) {
    char id[16];
    snprintf(id, sizeof id, "L-%d", i);
    tp_dfx_send_call(d, &(tp_test_call_t){ .event_id = id,
                                           .at_ms = at,
                                           .call_id = id,
                                           .hcp_id = "HCP-L",
                                           .status = SUBMITTED,
                                           .fields = ALL_FIELDS });
}

static const Touchpoint__V1__Alert *s_lua_next(tp_dfx_t *d, const char *alert_id, int status) {
    size_t n = d->got.n;
    assert_true(tp_dfx_recv_alert(d, TP_WAIT_MS));
    assert_string_equal(d->got.alerts[n]->alert_id, alert_id);
    assert_int_equal(d->got.alerts[n]->status, status);
    return d->got.alerts[n];
}

static void s_lua_before(tp_dfx_t *d) {
    for (int i = 0; i < 21; i++)
        s_lua_call(d, i, T1 + i);
    s_lua_next(d, "contact_frequency:hcp/HCP-L", TOUCHPOINT__V1__ALERT_STATUS__ALERT_STATUS_FIRING);
    tp_dfx_send_step(
        d, &(tp_test_step_t){ .event_id = "sig-L",
                              .at_ms = T1 + 2 * DAY,
                              .contract_id = "K-L",
                              .step = "CONTRACT_SIGNED",
                              .state = TOUCHPOINT__V1__STEP_STATE__STEP_STATE_COMPLETED });
    tp_dfx_expect_nothing_more(d);
    tp_test_alerts_clear(&d->got);
}

/* After the restart: a 22nd call only counts with the 21 stored before
 * (else the alert resolves at once), K-L's deadline fires with what was
 * stored at the signature, and the window resolves once two calls have
 * left it (two deadlines, the second armed after the restart). */
static void s_lua_after(tp_dfx_t *d, packed_t *out) {
    s_lua_call(d, 21, T1 + DAY);
    tp_dfx_send_watermark(d, "wm-1", T1 + 7 * DAY + 1);
    const Touchpoint__V1__Alert *a = s_lua_next(d, "compliance_after_signature:contract/K-L",
                                                TOUCHPOINT__V1__ALERT_STATUS__ALERT_STATUS_FIRING);
    assert_string_equal(a->hcp_id, "HCP-1");
    tp_dfx_send_watermark(d, "wm-2", T1 + 10 * DAY + 1);
    tp_dfx_send_watermark(d, "wm-3", T1 + 10 * DAY + 2);
    s_lua_next(d, "contact_frequency:hcp/HCP-L",
               TOUCHPOINT__V1__ALERT_STATUS__ALERT_STATUS_RESOLVED);
    tp_dfx_expect_nothing_more(d);
    s_pack_all(d, out);
    free(tp_dfx_stop(d));
}

/* Lua rules running: snapshots are taken (never "No snapshots"), and a
 * restart from the snapshot alone raises the same alerts as a restart
 * that replays the whole log. */
static void test_lua_rules_restart_from_snapshot_alone(void **state) {
    (void)state;
    tp_dfx_t *d = tp_dfx_start("event", LUA_YAML("snapshot: { enabled: false }\n"));
    s_lua_before(d);
    s_kill(d);
    tp_dfx_restart(d, NULL);
    packed_t want;
    s_lua_after(d, &want);
    tp_dfx_free(d);

    d = tp_dfx_start("event", LUA_YAML(SNAP_YAML(1)));
    s_lua_before(d);
    uint64_t pos = s_wait_log_cut(d);
    s_kill(d);
    tp_dfx_restart(d, NULL);
    s_expect_loaded(d, pos);
    assert_false(s_logged(d, "No snapshots"));
    packed_t got;
    s_lua_after(d, &got);
    s_expect_same(&got, &want);
    tp_dfx_free(d);
}

/* The pid in a .stall file of d's state directory other than `not`
 * (waits for one, with a deadline). */
static pid_t s_stalled_pid(const tp_dfx_t *d, pid_t not ) {
    char     *dir = s_state_dir(d);
    long long deadline = tp_now_ms() + TP_WAIT_MS;
    for (pid_t pid = 0;; usleep(5000)) {
        assert_true(tp_now_ms() < deadline);
        DIR *dh = opendir(dir);
        assert_non_null(dh);
        for (struct dirent *de; !pid && (de = readdir(dh));) {
            size_t l = strlen(de->d_name);
            char  *p, *text;
            if (l <= 6 || strcmp(de->d_name + l - 6, ".stall") != 0)
                continue;
            assert_true(asprintf(&p, "%s/%s", dir, de->d_name) > 0);
            if ((text = tp_read_file(p)) && atoi(text) > 0 && atoi(text) != not )
                pid = (pid_t)atoi(text);
            free(text);
            free(p);
        }
        closedir(dh);
        if (pid) {
            free(dir);
            return pid;
        }
    }
}

/* A writer that never finishes (the stall hook) is killed once
 * snapshot.timeout passes, counted as failed, and the snapshot is tried
 * again without waiting for another event: a second child. */
static void test_hung_writer_is_killed_and_retried(void **state) {
    (void)state;
    setenv("TOUCHPOINTD_TEST_SNAPSHOT_STALL", "1", 1);
    tp_dfx_t *d = tp_dfx_start("event", "snapshot: { every: 1, interval: 50ms, timeout: 1s }\n");
    unsetenv("TOUCHPOINTD_TEST_SNAPSHOT_STALL");
    s_before(d);
    pid_t first = s_stalled_pid(d, 0);
    pid_t second = s_stalled_pid(d, first);
    assert_true(second != first);
    assert_true(s_logged(d, "(snapshot.timeout): killed"));
    assert_true(s_logged(d, "was killed by signal 9"));
    tp_dfx_free(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_restart_from_snapshot_alone),
        cmocka_unit_test(test_corrupt_newest_falls_back),
        cmocka_unit_test(test_kill_while_snapshot_is_written),
        cmocka_unit_test(test_kill_while_log_is_truncated),
        cmocka_unit_test(test_lua_rules_restart_from_snapshot_alone),
        cmocka_unit_test(test_hung_writer_is_killed_and_retried),
    };
    return cmocka_run_group_tests(tests, s_setup, NULL);
}
