/* test_outbox — what waits for the group commit is delivered in order,
 * once, and only when the committed position passes the one it was sealed
 * with; a failed commit answers only the HTTP requests; what is left at
 * destroy is released, never acked. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tp_outbox.h"
#include "tp_testutil.h"

typedef struct {
    char log[512];
} s_rec_t;

static void s_add(s_rec_t *r, const char *what) {
    strncat(r->log, what, sizeof r->log - strlen(r->log) - 1);
    strncat(r->log, " ", sizeof r->log - strlen(r->log) - 1);
}

static void s_alert_cb(void *ctx, const char *topic, const void *body, size_t len) {
    char buf[96];
    snprintf(buf, sizeof buf, "alert:%s:%.*s", topic, (int)len, (const char *)body);
    s_add(ctx, buf);
}

static void s_ack_cb(void *ctx, const void *identity, size_t len, const char *event_id) {
    char buf[96];
    snprintf(buf, sizeof buf, "ack:%.*s:%s", (int)len, (const char *)identity, event_id);
    s_add(ctx, buf);
}

static void s_nats_cb(void *ctx, void *msg, bool stored) {
    char buf[96];
    snprintf(buf, sizeof buf, "%s:%s", stored ? "nats-ack" : "nats-release", (const char *)msg);
    s_add(ctx, buf);
}

static s_rec_t *s_http_rec;

static void s_http_cb(void *arg, int r) {
    char buf[96];
    snprintf(buf, sizeof buf, "http:%s:%d", (const char *)arg, r);
    s_add(s_http_rec, buf);
}

static const tp_outbox_ops_t s_ops = { .alert = s_alert_cb, .ack = s_ack_cb, .nats = s_nats_cb };

/* Every test: an outbox whose callbacks (HTTP replies too) write to rec. */
typedef struct {
    s_rec_t      rec;
    tp_outbox_t *ob;
} fixture_t;

static int s_setup(void **state) {
    fixture_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    s_http_rec = &f->rec;
    assert_int_equal(tp_outbox_new(&s_ops, &f->rec, &f->ob), 0);
    *state = f;
    return 0;
}

static int s_teardown(void **state) {
    fixture_t *f = *state;
    tp_outbox_destroy(&f->ob);
    free(f);
    return 0;
}

static void test_delivered_in_order_once(void **state) {
    fixture_t   *f = *state;
    tp_outbox_t *ob = f->ob;
    s_rec_t     *rec = &f->rec;
    assert_int_equal(tp_outbox_alert(ob, "friction.step_slow", "A1", 2), 0);
    assert_int_equal(tp_outbox_ack(ob, "id7", 3, "e1"), 0);
    assert_int_equal(tp_outbox_http(ob, s_http_cb, "req1"), 0);
    assert_int_equal(tp_outbox_nats(ob, "m1"), 0);
    assert_int_equal(tp_outbox_alert(ob, "accountability.call_late", "A2", 2), 0);
    assert_string_equal(rec->log, ""); /* nothing before the commit */
    tp_outbox_deliver(ob);
    assert_string_equal(rec->log, "alert:friction.step_slow:A1 ack:id7:e1 http:req1:0 nats-ack:m1 "
                                  "alert:accountability.call_late:A2 ");
    rec->log[0] = '\0';
    tp_outbox_deliver(ob); /* once */
    assert_string_equal(rec->log, "");
}

/* A failed commit answers the HTTP requests (503) and keeps the rest for
 * the retry, in order; items queued afterwards go behind them. */
static void test_failed_commit_answers_http_only(void **state) {
    fixture_t   *f = *state;
    tp_outbox_t *ob = f->ob;
    s_rec_t     *rec = &f->rec;
    assert_int_equal(tp_outbox_http(ob, s_http_cb, "r1"), 0);
    assert_int_equal(tp_outbox_alert(ob, "t", "A1", 2), 0);
    assert_int_equal(tp_outbox_http(ob, s_http_cb, "r2"), 0);
    tp_outbox_fail_http(ob, -5);
    assert_string_equal(rec->log, "http:r1:-5 http:r2:-5 ");
    assert_int_equal(tp_outbox_ack(ob, "i", 1, "e2"), 0); /* the tail is right after removals */
    rec->log[0] = '\0';
    tp_outbox_deliver(ob);
    assert_string_equal(rec->log, "alert:t:A1 ack:i:e2 ");
}

/* drop_last takes back only the item queued last; destroy releases what
 * was never delivered. */
static void test_drop_last_and_destroy(void **state) {
    fixture_t   *f = *state;
    tp_outbox_t *ob = f->ob;
    s_rec_t     *rec = &f->rec;
    assert_int_equal(tp_outbox_nats(ob, "m1"), 0);
    assert_int_equal(tp_outbox_alert(ob, "t", "A1", 2), 0);
    tp_outbox_drop_last(ob);
    tp_outbox_drop_last(ob); /* nothing more to take back */
    assert_int_equal(tp_outbox_nats(ob, "m2"), 0);
    tp_outbox_destroy(&f->ob);
    assert_string_equal(rec->log, "nats-release:m1 nats-release:m2 ");
}

/* Two turns sealed at 100 and 200: a commit up to 150 delivers the first
 * turn's only; what is queued after the last seal waits for the next one
 * (its records are not handed over yet, whatever was committed). */
static void test_delivered_when_the_commit_passes_its_seal(void **state) {
    fixture_t   *f = *state;
    tp_outbox_t *ob = f->ob;
    assert_int_equal(tp_outbox_alert(ob, "t", "A1", 2), 0);
    assert_int_equal(tp_outbox_ack(ob, "i", 1, "e1"), 0);
    tp_outbox_seal(ob, 100);
    assert_int_equal(tp_outbox_alert(ob, "t", "A2", 2), 0);
    tp_outbox_seal(ob, 200);
    assert_int_equal(tp_outbox_alert(ob, "t", "A3", 2), 0); /* not sealed */
    tp_outbox_deliver_upto(ob, 99);
    assert_string_equal(f->rec.log, "");
    tp_outbox_deliver_upto(ob, 150);
    assert_string_equal(f->rec.log, "alert:t:A1 ack:i:e1 ");
    tp_outbox_deliver_upto(ob, 1000);
    assert_string_equal(f->rec.log, "alert:t:A1 ack:i:e1 alert:t:A2 ");
    tp_outbox_seal(ob, 300);
    assert_int_equal(tp_outbox_http(ob, s_http_cb, "r1"), 0);
    tp_outbox_fail_http(ob, -5); /* the first unsealed one goes: A4 is still unsealed */
    assert_int_equal(tp_outbox_alert(ob, "t", "A4", 2), 0);
    tp_outbox_deliver_upto(ob, 300);
    assert_string_equal(f->rec.log, "alert:t:A1 ack:i:e1 alert:t:A2 http:r1:-5 alert:t:A3 ");
    tp_outbox_seal(ob, 400);
    tp_outbox_deliver_upto(ob, 400);
    assert_string_equal(f->rec.log,
                        "alert:t:A1 ack:i:e1 alert:t:A2 http:r1:-5 alert:t:A3 alert:t:A4 ");
}

TP_TEST_MAIN_WITH(s_setup, s_teardown, cmocka_unit_test(test_delivered_in_order_once),
                  cmocka_unit_test(test_failed_commit_answers_http_only),
                  cmocka_unit_test(test_drop_last_and_destroy),
                  cmocka_unit_test(test_delivered_when_the_commit_passes_its_seal))
