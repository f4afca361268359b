/* test_engine_snapshot — an engine saved mid-stream and loaded into a
 * fresh one carries on exactly as the original: the same alerts, byte for
 * byte (sequence numbers included), for the rest of a realistic stream
 * (bench_mix: calls in every status, contracting cases walked through
 * their steps, feedback; deadlines firing all along). And a snapshot that
 * does not parse is refused, never a crash. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "tp_testutil.h"

#include "bench_mix.h"
#include "tp_engine.h"
#include "tp_testengine.h"

#define EVENTS 20000
#define CUT    (EVENTS / 2 + 13) /* mid-cycle: a contract half walked */

static FILE *s_save(tp_engine_t *e) {
    tp_snapw_t *w;
    FILE       *f = tp_test_snap_file(&w);
    tp_engine_save(e, w);
    tp_test_snap_written(&w);
    return f;
}

static int s_load(tp_engine_t *e, FILE *f, uint64_t limit) {
    tp_snapr_t *r = tp_test_snap_reader(f, limit);
    int         k = tp_engine_load(e, r);
    if (k == 0 && !tp_snapr_at_end(r))
        k = -EPROTO;
    tp_snapr_destroy(&r);
    return k;
}

static void s_feed(tp_fixture_t *fx, const bench_frames_t *m, size_t from, size_t to) {
    for (size_t i = from; i < to; i++) {
        tp_frame_t fr[2] = { { m->f[i].topic, strlen(m->f[i].topic) },
                             { m->f[i].buf, m->f[i].len } };
        assert_true(tp_engine_handle(fx->engine, fr, 2) >= 0);
    }
}

static void s_pack(const Touchpoint__V1__Alert *a, uint8_t **buf, size_t *len) {
    *len = protobuf_c_message_get_packed_size(&a->base);
    *buf = malloc(*len + 1);
    assert_non_null(*buf);
    protobuf_c_message_pack(&a->base, *buf);
}

static void test_loaded_engine_carries_on_the_same(void **state) {
    (void)state;
    bench_frames_t m;
    assert_int_equal(bench_mix(&m, EVENTS, "S", BENCH_T0, 0), 0);
    tp_fixture_t *a = tp_fixture_new(NULL), *b = tp_fixture_new(NULL);
    /* A resend of events before the cut must be a duplicate in both. */
    s_feed(a, &m, 0, CUT);
    FILE *f = s_save(a->engine);
    assert_int_equal(s_load(b->engine, f, 0), 0);
    fclose(f);
    assert_true(tp_engine_calls(a->engine) > 100);
    assert_true(tp_engine_cases(a->engine) > 10);
    assert_int_equal(tp_engine_calls(b->engine), tp_engine_calls(a->engine));
    assert_int_equal(tp_engine_cases(b->engine), tp_engine_cases(a->engine));
    assert_int_equal(tp_engine_open_alerts(b->engine), tp_engine_open_alerts(a->engine));
    assert_int_equal(tp_engine_deadlines(b->engine), tp_engine_deadlines(a->engine));
    assert_int_equal(tp_engine_next_deadline(b->engine), tp_engine_next_deadline(a->engine));
    /* In steps, comparing what each step raised (the fixture keeps at
     * most TP_TEST_MAX_ALERTS). */
    size_t compared = 0;
    for (size_t from = CUT - 50; from < EVENTS; from += 250) {
        size_t to = from + 250 < EVENTS ? from + 250 : EVENTS;
        tp_test_alerts_clear(&a->got);
        tp_test_alerts_clear(&b->got);
        s_feed(a, &m, from, to);
        s_feed(b, &m, from, to);
        assert_int_equal(b->got.n, a->got.n);
        for (size_t i = 0; i < b->got.n; i++) {
            uint8_t *x, *y;
            size_t   xl, yl;
            s_pack(a->got.alerts[i], &x, &xl);
            s_pack(b->got.alerts[i], &y, &yl);
            assert_int_equal(xl, yl);
            assert_memory_equal(x, y, xl);
            free(x);
            free(y);
        }
        compared += b->got.n;
    }
    assert_true(compared > 1000);
    const tp_stats_t *sa = tp_engine_stats(a->engine), *sb = tp_engine_stats(b->engine);
    assert_int_equal(sb->duplicates, 50);
    assert_int_equal(sb->seq_gaps, sa->seq_gaps);
    assert_int_equal(sb->seq_regressions, sa->seq_regressions);
    assert_int_equal(sb->seq_restarts, sa->seq_restarts);
    assert_int_equal(sb->stale_versions, sa->stale_versions);
    tp_fixture_free(a);
    tp_fixture_free(b);
    bench_frames_free(&m);
}

/* Cut short anywhere, or one byte changed: an error, never a crash (the
 * snapshot file's checksum catches the rest before the engine sees it). */
static void test_truncated_snapshot_is_refused(void **state) {
    (void)state;
    bench_frames_t m;
    assert_int_equal(bench_mix(&m, 2000, "T", BENCH_T0, 0), 0);
    tp_fixture_t *a = tp_fixture_new(NULL);
    s_feed(a, &m, 0, m.n);
    FILE *f = s_save(a->engine);
    long  size = lseek(fileno(f), 0, SEEK_END);
    assert_true(size > 1000);
    for (long cut = 1; cut < size; cut += size / 97 + 1) {
        tp_fixture_t *b = tp_fixture_new(NULL);
        assert_true(s_load(b->engine, f, (uint64_t)cut) < 0);
        tp_fixture_free(b);
    }
    tp_fixture_free(a);
    fclose(f);
    bench_frames_free(&m);
}

TP_TEST_MAIN(cmocka_unit_test(test_loaded_engine_carries_on_the_same),
             cmocka_unit_test(test_truncated_snapshot_is_refused))
