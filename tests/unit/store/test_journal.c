/* test_journal — tp_journal on a real SQLite file: the checkpointer thread
 * copies the WAL into the database while the journal is open and empties
 * a WAL over its limit; a commit that finds the write lock taken says
 * -EBUSY at once and keeps its queue for the retry. With the writer
 * thread: the caller never waits for a commit (the lock taken, submit
 * returns and the eventfd stays quiet until it is released), a full ring
 * makes the caller wait and loses nothing, a failed commit is reported
 * and retried, a WAL restarted over its limit is cut in a lull. A commit
 * writes no meta row, and the last sequence survives pruning. */
#include <poll.h>
#include <errno.h>
#include <setjmp.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tp_journal.h"
#include "tp_testutil.h"

typedef struct {
    char         *dir, *path;
    tp_journal_t *j;
} fx_t;

static int s_setup(void **state) {
    fx_t *f = calloc(1, sizeof *f);
    f->dir = tp_tmpdir();
    f->path = tp_path(f->dir, "journal.db");
    char err[256];
    assert_int_equal(tp_journal_open(f->path, err, sizeof err, &f->j), 0);
    *state = f;
    return 0;
}

static int s_teardown(void **state) {
    fx_t *f = *state;
    tp_journal_close(&f->j);
    tp_journal_close(&f->j);
    tp_rmrf(f->dir);
    free(f->path);
    free(f->dir);
    free(f);
    return 0;
}

/* n alerts, one commit each (every commit adds WAL frames). */
static void s_commit_alerts(tp_journal_t *j, uint64_t from, unsigned n) {
    static const char body[600] = { 0 };
    char              err[256];
    for (unsigned i = 0; i < n; i++) {
        assert_int_equal(tp_journal_append(j, from + i, "alert.x", "id", 1, 0, body, sizeof body),
                         0);
        int r;
        /* -EBUSY: the checkpointer is emptying the WAL; the daemon retries
         * on a timer, this loop at once. */
        while ((r = tp_journal_commit(j, err, sizeof err)) == -EBUSY)
            ;
        assert_int_equal(r, 0);
    }
}

static int s_count(void *ctx, uint64_t seq, const char *topic, const void *body, size_t len) {
    (void)seq;
    (void)topic;
    (void)body;
    (void)len;
    (*(int *)ctx)++;
    return 0;
}

static void test_checkpointer_runs_and_bounds_the_wal(void **state) {
    fx_t *f = *state;
    tp_journal_set_checkpoint(f->j, 10, 64 * 1024);
    s_commit_alerts(f->j, 1, 200); /* ~1 MB of WAL */
    tp_journal_wal_t w;
    long long        deadline = tp_now_ms() + 20000;
    do {
        assert_true(tp_now_ms() < deadline);
        tp_journal_wal_stats(f->j, &w);
        /* A pass may run between the commits: what came after the last
         * TRUNCATE may stay (under the limit), copied. */
    } while (w.truncations == 0 || w.lag_frames != 0 || w.wal_bytes > 64 * 1024);
    assert_int_equal(w.errors, 0);
    assert_true(w.checkpoints >= 1);
    /* Checkpointing lost nothing. */
    int      n = 0;
    uint64_t last;
    assert_int_equal(tp_journal_read_after(f->j, 0, 1000, s_count, &n, &last), 200);
    assert_int_equal(last, 200);
}

static void test_commit_busy_is_immediate_and_keeps_the_queue(void **state) {
    fx_t *f = *state;
    s_commit_alerts(f->j, 1, 1);
    sqlite3 *other;
    assert_int_equal(sqlite3_open(f->path, &other), SQLITE_OK);
    sqlite3_busy_timeout(other, 5000); /* the checkpointer may be reading */
    assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    char err[256];
    assert_int_equal(tp_journal_append(f->j, 2, "alert.x", "id2", 1, 0, "b", 1), 0);
    assert_int_equal(tp_journal_commit(f->j, err, sizeof err), -EBUSY);
    assert_int_equal(tp_journal_pending(f->j), 1);
    assert_int_equal(tp_journal_last_seq(f->j), 1);
    assert_int_equal(sqlite3_exec(other, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(other);
    assert_int_equal(tp_journal_commit(f->j, err, sizeof err), 0);
    assert_int_equal(tp_journal_pending(f->j), 0);
    assert_int_equal(tp_journal_last_seq(f->j), 2);
}

/* Waits (up to 20 s) until the writer has committed up to pos; its
 * progress in *ret. */
static void s_wait_committed(tp_journal_t *j, uint64_t pos, tp_journal_progress_t *ret) {
    long long deadline = tp_now_ms() + 20000;
    for (;;) {
        struct pollfd pfd = { .fd = tp_journal_fd(j), .events = POLLIN };
        assert_true(poll(&pfd, 1, 1000) >= 0);
        tp_journal_progress(j, ret);
        if (ret->committed >= pos)
            return;
        assert_true(tp_now_ms() < deadline);
    }
}

static int s_count_events(void *ctx, int kind, int64_t at, const char *topic, const void *body,
                          size_t len) {
    (void)kind;
    (void)at;
    (void)topic;
    (void)body;
    (void)len;
    (*(int *)ctx)++;
    return 0;
}

/* The write lock held by another connection: appending and submitting
 * return at once (the commit waits on the writer thread, not here), the
 * eventfd says nothing until the lock is released, then the alert and its
 * event are stored, and replay serves the alert once progress was read. */
static void test_writer_commits_off_the_callers_thread(void **state) {
    fx_t *f = *state;
    char  err[256];
    assert_int_equal(tp_journal_start_writer(f->j, 1 << 20, err, sizeof err), 0);
    sqlite3 *other;
    assert_int_equal(sqlite3_open(f->path, &other), SQLITE_OK);
    sqlite3_busy_timeout(other, 5000);
    assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(tp_journal_append(f->j, 1, "alert.x", "id1", 1, 0, "b", 1), 0);
    assert_int_equal(tp_journal_log_event(f->j, TP_LOG_EVENT, 5, "ev.x", "e", 1), 0);
    uint64_t      pos = tp_journal_submit(f->j);
    struct pollfd pfd = { .fd = tp_journal_fd(f->j), .events = POLLIN };
    assert_int_equal(poll(&pfd, 1, 200), 0); /* nothing committed: the lock is held */
    assert_int_equal(tp_journal_pending(f->j), 2);
    assert_int_equal(sqlite3_exec(other, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(other);
    tp_journal_progress_t p;
    s_wait_committed(f->j, pos, &p);
    assert_int_equal(p.last_seq, 1);
    assert_int_equal(p.failures, 0);
    assert_int_equal(tp_journal_pending(f->j), 0);
    int      n = 0;
    uint64_t last;
    assert_int_equal(tp_journal_read_after(f->j, 0, 10, s_count, &n, &last), 1);
    n = 0;
    assert_int_equal(tp_journal_for_each_event(f->j, s_count_events, &n), 1);
}

/* 40 MB through an 8 MB ring: the caller waits for room (back-pressure),
 * every record is stored, in order. Without a writer, a full ring says
 * -ENOBUFS (nothing waits on it). */
static void test_full_ring_waits_and_loses_nothing(void **state) {
    fx_t                *f = *state;
    static unsigned char body[200 * 1000];
    char                 err[256];
    int                  r = 0;
    for (unsigned i = 0; i < 200 && r == 0; i++)
        r = tp_journal_append(f->j, i + 1, "alert.x", "id", 1, 0, body, sizeof body);
    assert_int_equal(r, -ENOBUFS);
    assert_int_equal(tp_journal_commit(f->j, err, sizeof err), 0);
    uint64_t first = tp_journal_last_seq(f->j) + 1;
    assert_int_equal(tp_journal_start_writer(f->j, 1 << 20, err, sizeof err), 0);
    for (unsigned i = 0; i < 200; i++) {
        assert_int_equal(
            tp_journal_append(f->j, first + i, "alert.x", "id", 1, 0, body, sizeof body), 0);
        assert_int_equal(tp_journal_log_event(f->j, TP_LOG_EVENT, i, "ev", "e", 1), 0);
    }
    tp_journal_progress_t p;
    s_wait_committed(f->j, tp_journal_submit(f->j), &p);
    assert_int_equal(p.last_seq, first + 199);
    int      n = 0;
    uint64_t last;
    assert_int_equal(tp_journal_read_after(f->j, first - 1, 1000, s_count, &n, &last), 200);
    assert_int_equal(last, first + 199);
}

/* meta's value for `key`, read straight from the file. */
static int64_t s_meta(const char *path, const char *key) {
    sqlite3      *db;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key=?", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static void s_meta_set(const char *path, const char *key, int64_t value) {
    sqlite3 *db;
    char     sql[128];
    snprintf(sql, sizeof sql, "UPDATE meta SET value=%lld WHERE key='%s'", (long long)value, key);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

static void s_reopen(fx_t *f) {
    char err[256];
    tp_journal_close(&f->j);
    assert_int_equal(tp_journal_open(f->path, err, sizeof err, &f->j), 0);
}

/* A commit writes no bookkeeping row (meta keeps its 0: one page less per
 * commit); the last sequence is the newest alert's when the journal is
 * opened again, and still is once pruning deleted every alert (pruning
 * stores it in meta first). */
static void test_last_seq_without_a_meta_write_per_commit(void **state) {
    fx_t *f = *state;
    s_commit_alerts(f->j, 1, 5);
    assert_int_equal(s_meta(f->path, "last_seq"), 0);
    s_reopen(f);
    assert_int_equal(tp_journal_last_seq(f->j), 5);
    assert_int_equal(tp_journal_prune(f->j, 1000, 1, 0), 5); /* written at 0: all too old */
    uint64_t count, first;
    assert_int_equal(tp_journal_stats(f->j, &count, &first), 0);
    assert_int_equal(count, 0);
    s_reopen(f);
    assert_int_equal(tp_journal_last_seq(f->j), 5);
}

/* A journal says schema 2 (a touchpointd that reads 1 refuses it rather
 * than take meta's stale last_seq); one written as 1, whose meta is exact,
 * is upgraded at open and keeps its last sequence; a newer one is refused. */
static void test_schema_upgraded_from_1_newer_refused(void **state) {
    fx_t *f = *state;
    char  err[256] = "";
    assert_int_equal(s_meta(f->path, "schema"), 2);
    tp_journal_close(&f->j);
    s_meta_set(f->path, "schema", 1);
    s_meta_set(f->path, "last_seq", 7); /* a 1 wrote it at every commit */
    assert_int_equal(tp_journal_open(f->path, err, sizeof err, &f->j), 0);
    assert_int_equal(s_meta(f->path, "schema"), 2);
    assert_int_equal(tp_journal_last_seq(f->j), 7);
    tp_journal_close(&f->j);
    s_meta_set(f->path, "schema", 3);
    assert_int_equal(tp_journal_open(f->path, err, sizeof err, &f->j), -EBADMSG);
    assert_non_null(strstr(err, "schema 3"));
    s_meta_set(f->path, "schema", 2);
    assert_int_equal(tp_journal_open(f->path, err, sizeof err, &f->j), 0);
}

/* With the writer thread, a WAL over its limit is started over (RESTART)
 * and the file is cut to nothing by the writer once records stop coming,
 * not under the write lock by the checkpointer; nothing is lost. */
static void test_writer_cuts_a_restarted_wal_in_a_lull(void **state) {
    fx_t                      *f = *state;
    static const unsigned char body[600];
    char                       err[256];
    assert_int_equal(tp_journal_start_writer(f->j, 1 << 20, err, sizeof err), 0);
    tp_journal_set_checkpoint(f->j, 10, 64 * 1024);
    tp_journal_progress_t p;
    for (unsigned i = 0; i < 400; i++) { /* ~1 MB of WAL in 40 commits */
        assert_int_equal(tp_journal_append(f->j, i + 1, "alert.x", "id", 1, 0, body, sizeof body),
                         0);
        if (i % 10 == 9)
            s_wait_committed(f->j, tp_journal_submit(f->j), &p);
    }
    tp_journal_wal_t w;
    long long        deadline = tp_now_ms() + 20000;
    do {
        assert_true(tp_now_ms() < deadline);
        struct pollfd pfd = { .fd = -1 };
        poll(&pfd, 0, 10); /* the checkpointer and the writer work on their own */
        tp_journal_wal_stats(f->j, &w);
    } while (w.truncations == 0 || w.wal_bytes != 0);
    assert_int_equal(w.errors, 0);
    int      n = 0;
    uint64_t last;
    assert_int_equal(tp_journal_read_after(f->j, 0, 1000, s_count, &n, &last), 400);
    assert_int_equal(last, 400);
}

/* A commit the database refuses (the alert's sequence already stored) is
 * reported as a failure with its reason, and drain says -EIO at once. */
static void test_writer_reports_a_failed_commit(void **state) {
    fx_t *f = *state;
    char  err[256];
    s_commit_alerts(f->j, 1, 1);
    assert_int_equal(tp_journal_start_writer(f->j, 1 << 20, err, sizeof err), 0);
    assert_int_equal(tp_journal_append(f->j, 1, "alert.x", "id", 1, 0, "b", 1), 0);
    assert_int_equal(tp_journal_drain(f->j, 20000), -EIO);
    tp_journal_progress_t p;
    tp_journal_progress(f->j, &p);
    assert_true(p.failing);
    assert_true(p.failures >= 1);
    assert_non_null(strstr(p.err, "UNIQUE"));
    assert_int_equal(tp_journal_pending(f->j), 1); /* kept for the retry */
}

TP_TEST_MAIN_WITH(s_setup, s_teardown, cmocka_unit_test(test_checkpointer_runs_and_bounds_the_wal),
                  cmocka_unit_test(test_commit_busy_is_immediate_and_keeps_the_queue),
                  cmocka_unit_test(test_writer_commits_off_the_callers_thread),
                  cmocka_unit_test(test_full_ring_waits_and_loses_nothing),
                  cmocka_unit_test(test_writer_reports_a_failed_commit),
                  cmocka_unit_test(test_last_seq_without_a_meta_write_per_commit),
                  cmocka_unit_test(test_schema_upgraded_from_1_newer_refused),
                  cmocka_unit_test(test_writer_cuts_a_restarted_wal_in_a_lull))
