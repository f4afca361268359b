/* test_journal — tp_journal on a real SQLite file: the checkpointer thread
 * copies the WAL into the database while the journal is open and empties
 * a WAL over its limit; a commit that finds the write lock taken says
 * -EBUSY at once and keeps its queue for the retry. */
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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_checkpointer_runs_and_bounds_the_wal, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_commit_busy_is_immediate_and_keeps_the_queue, s_setup,
                                        s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
