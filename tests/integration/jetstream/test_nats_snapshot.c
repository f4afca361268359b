/* test_nats_snapshot — lease mode's take-over from a partition snapshot
 * kept in JetStream, against a real nats-server and real daemons (event
 * clock, 8 partitions, the generated realistic stream of tp_testjs):
 *
 *   - i0 serves every partition with nats.snapshot_every: 10 and is
 *     SIGKILLed once all of the first two parts is acked; the last part is
 *     published while nobody serves. i1 takes over: every partition loads
 *     its snapshot, and the replay covers only the events after the
 *     snapshots (at most 9 a partition, plus the last part), not the
 *     whole stream. TP_ALERTS then equals the single-node run: nothing
 *     lost, nothing twice. With i0's saves and i1's after its replay,
 *     each partition keeps exactly its newest two snapshots (heads and
 *     chunks; nats.snapshot_keep's default): the older ones are purged.
 *   - i1 stops cleanly (a fresh snapshot of every partition on the way
 *     out), a snapshot that fails its checksum is put above partition 0's
 *     newest, and i2 takes over: partition 0's bad one is counted and the
 *     good one before it loaded, no partition replays anything, and
 *     TP_ALERTS still equals the single-node run.
 *   - test_handover_saves_first: a member joins; the instance giving it
 *     partitions saves each first, and the newcomer replays nothing.
 *
 * The daemons cut snapshots into 4 KiB chunks (TOUCHPOINTD_TEST_SNAPSHOT_CHUNK)
 * so that each is several messages, as a large one is. How long a take-over takes is printed, not asserted (bench/ measures
 * it). Skipped without nats-server (a failure under TP_TEST_REQUIRE_ALL).
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <nats/nats.h>

#include "tp_testjs.h"

#define BUDGET_MS 80000
#define EVERY     10
#define ALL_PARTS ((1u << TP_JS_N_PART) - 1)

static tp_dfx_t *s_spawn_every(const char *url, unsigned i, unsigned every) {
    char     *yaml = tp_nats_yaml(url, NULL,
                                  "partition_count: " TP_JS_PARTITIONS
                                  ", ownership: lease, instance: i%u, lease_ttl: 2s, ack_wait: 2s, "
                                      "snapshot_every: %u",
                                  i, every);
    tp_dfx_t *d = tp_dfx_setup(false);
    d->http = true;
    tp_dfx_spawn(d, "event", yaml);
    free(yaml);
    return d;
}

static tp_dfx_t *s_spawn(const char *url, unsigned i) {
    return s_spawn_every(url, i, EVERY);
}

static double s_metric(tp_dfx_t *d, const char *name) {
    char full[128];
    snprintf(full, sizeof full, "touchpointd_nats_%s", name);
    return tp_nats_metric(d->http_port, full);
}

static void s_wait_all_live(tp_dfx_t *d, const char *what) {
    long long deadline = tp_now_ms() + tp_js_budget(3 * TP_WAIT_MS, what);
    while (tp_js_live_of(d) != ALL_PARTS) {
        if (tp_now_ms() >= deadline) {
            tp_js_dump_log(what, d);
            fail_msg("not every partition live: %s", what);
        }
        usleep(20 * 1000);
    }
}

/* Waits until d serves every partition, publishes the stream's first two
 * parts, each once d acked the one before, and waits until d acked them
 * all; returns how many were sent. */
static unsigned long s_publish_two_parts(tp_dfx_t *d, const char *url, tp_js_stream_t *st) {
    s_wait_all_live(d, "at start");
    unsigned long sent = 0;
    for (int i = 0; i < 2; i++) { /* one after the other: a snapshot after each */
        sent += tp_js_publish(d, url, st->parts[i]);
        long long deadline = tp_now_ms() + tp_js_budget(3 * TP_WAIT_MS, "acking a part");
        while (s_metric(d, "acked_total") < (double)sent) {
            assert_true(tp_now_ms() < deadline);
            usleep(20 * 1000);
        }
    }
    return sent;
}

/* The events each partition's take-over replayed, from "JetStream
 * partition N live: rebuilt from M events" (the last such line of each). */
static void s_rebuilt(tp_dfx_t *d, unsigned long long ret[TP_JS_N_PART]) {
    char *log = tp_read_file(d->err);
    assert_non_null(log);
    for (unsigned p = 0; p < TP_JS_N_PART; p++)
        ret[p] = ~0ULL;
    for (const char *s = log; (s = strstr(s, "JetStream partition ")); s++) {
        unsigned           p;
        unsigned long long n;
        if (sscanf(s, "JetStream partition %u live: rebuilt from %llu events", &p, &n) == 2 &&
            p < TP_JS_N_PART)
            ret[p] = n;
    }
    free(log);
}

/* Puts a snapshot whose body fails the checksum above partition p's
 * newest: one chunk and a head naming it (and the good one as kept), as
 * tp_jssnap writes them. */
static void s_corrupt_snapshot(const char *url, unsigned p) {
    natsConnection *nc = NULL;
    jsCtx          *js = NULL;
    assert_int_equal(natsConnection_ConnectTo(&nc, url), NATS_OK);
    assert_int_equal(natsConnection_JetStream(&js, nc, NULL), NATS_OK);
    char subject[64];
    snprintf(subject, sizeof subject, "tp.snapshots.%u.h", p);
    natsMsg *head = NULL;
    assert_int_equal(js_GetLastMsg(&head, js, "TP_SNAPSHOTS", subject, NULL, NULL), NATS_OK);
    uint64_t seq = 0, first = 0, hseq = natsMsg_GetSequence(head);
    assert_int_equal(sscanf(natsMsg_GetData(head), "1 %" SCNu64 " %" SCNu64, &seq, &first), 2);
    natsMsg_Destroy(head);
    /* A header that matches (magic, format, partition, sequence, length)
     * over a body whose checksum does not. */
    unsigned char buf[40 + 64] = "TPJSNAP\n";
    memset(buf + 40, 0xAB, 64);
    buf[8] = 1;
    buf[12] = (unsigned char)p;
    for (int i = 0; i < 8; i++)
        buf[16 + i] = (unsigned char)(seq >> (8 * i));
    buf[24] = 64;
    natsMsg *m = NULL;
    snprintf(subject, sizeof subject, "tp.snapshots.%u.c", p);
    assert_int_equal(natsMsg_Create(&m, subject, NULL, (const char *)buf, sizeof buf), NATS_OK);
    assert_int_equal(natsMsgHeader_Set(m, "Tp-Snap-Id", "bad"), NATS_OK);
    jsPubAck *pa = NULL;
    assert_int_equal(js_PublishMsg(&pa, js, m, NULL, NULL), NATS_OK);
    char text[128];
    /* It keeps the good one before it, as a save does. */
    snprintf(text, sizeof text, "1 %" PRIu64 " %" PRIu64 " 1 %zu bad %" PRIu64 ":%" PRIu64, seq,
             pa->Sequence, sizeof buf, hseq, first);
    jsPubAck_Destroy(pa);
    natsMsg_Destroy(m);
    snprintf(subject, sizeof subject, "tp.snapshots.%u.h", p);
    assert_int_equal(js_Publish(NULL, js, subject, text, (int)strlen(text), NULL, NULL), NATS_OK);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
}

/* Messages on `subject` in TP_SNAPSHOTS. */
static uint64_t s_count(jsCtx *js, const char *subject) {
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Stream.Info.SubjectsFilter = subject;
    jsStreamInfo *si = NULL;
    assert_int_equal(js_GetStreamInfo(&si, js, "TP_SNAPSHOTS", &jo, NULL), NATS_OK);
    uint64_t n = 0;
    for (int i = 0; si->State.Subjects && i < si->State.Subjects->Count; i++)
        n += si->State.Subjects->List[i].Msgs;
    jsStreamInfo_Destroy(si);
    return n;
}

/* Partition p saved three times at least (i0 after each part, i1 after its
 * replay): exactly the newest two snapshots are left (nats.snapshot_keep 2, the default), heads and chunks; the older
 * ones are purged, and never everything. */
static void s_expect_two_kept(const char *url, unsigned p) {
    natsConnection *nc = NULL;
    jsCtx          *js = NULL;
    assert_int_equal(natsConnection_ConnectTo(&nc, url), NATS_OK);
    assert_int_equal(natsConnection_JetStream(&js, nc, NULL), NATS_OK);
    char heads[64], chunks[64];
    snprintf(heads, sizeof heads, "tp.snapshots.%u.h", p);
    snprintf(chunks, sizeof chunks, "tp.snapshots.%u.c", p);
    natsMsg *m = NULL;
    assert_int_equal(js_GetLastMsg(&m, js, "TP_SNAPSHOTS", heads, NULL, NULL), NATS_OK);
    uint64_t n1 = 0, n2 = 0, kept = 0;
    char     id[256];
    int      used = 0;
    assert_int_equal(sscanf(natsMsg_GetData(m), "1 %*u %*u %" SCNu64 " %*u %255s %" SCNu64 ":%n",
                            &n1, id, &kept, &used),
                     3);
    natsMsg_Destroy(m);
    assert_int_equal(js_GetMsg(&m, js, "TP_SNAPSHOTS", kept, NULL, NULL), NATS_OK);
    /* The older one named one older still when it was written: a third
     * save, whose head is gone now. */
    uint64_t third = 0;
    assert_int_equal(
        sscanf(natsMsg_GetData(m), "1 %*u %*u %" SCNu64 " %*u %255s %" SCNu64, &n2, id, &third), 3);
    natsMsg_Destroy(m);
    assert_int_equal(js_GetMsg(&m, js, "TP_SNAPSHOTS", third, NULL, NULL), NATS_NOT_FOUND);
    print_message("partition %u: %llu heads, %llu chunks kept (%llu + %llu)\n", p,
                  (unsigned long long)s_count(js, heads), (unsigned long long)s_count(js, chunks),
                  (unsigned long long)n1, (unsigned long long)n2);
    assert_int_equal(s_count(js, heads), 2);
    assert_int_equal(s_count(js, chunks), n1 + n2);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
}

static void test_takeover_from_snapshot(void **state) {
    (void)state;
    tp_nats_skip_without_server();
    tp_js_budget_start(BUDGET_MS);
    /* Snapshots of several chunks each (they are ~13 KB here). */
    setenv("TOUCHPOINTD_TEST_SNAPSHOT_CHUNK", "4096", 1);
    tp_js_stream_t *st = tp_js_stream_new();
    tp_nats_srv_t  *srv = tp_nats_start();

    /* i0 serves all, snapshots as it goes, and dies with everything acked. */
    tp_dfx_t     *d0 = s_spawn(srv->url, 0);
    unsigned long early = s_publish_two_parts(d0, srv->url, st);
    double        saved = s_metric(d0, "snapshots_saved_total");
    assert_true(saved >= TP_JS_N_PART);
    assert_int_equal(tp_proc_signal(&d0->proc, SIGKILL), 0);
    unsigned long late = tp_js_publish(d0, srv->url, st->parts[2]);

    /* i1: snapshots plus the events after them, not the whole stream. */
    long long t0 = tp_now_ms();
    tp_dfx_t *d1 = s_spawn(srv->url, 1);
    s_wait_all_live(d1, "i1 taking over");
    double replayed = s_metric(d1, "rebuild_events_total");
    print_message("i0 saved %.0f snapshots over %lu events; i1 took over in %lld ms (lease_ttl 2 "
                  "s) replaying %.0f events (%lu published after the kill)\n",
                  saved, early, tp_now_ms() - t0, replayed, late);
    assert_true(s_metric(d1, "snapshots_loaded_total") == TP_JS_N_PART);
    assert_true(s_metric(d1, "snapshots_bad_total") == 0);
    assert_true(replayed >= (double)late);
    assert_true(replayed <= (double)late + TP_JS_N_PART * (EVERY - 1));
    assert_true((double)early > TP_JS_N_PART * (EVERY - 1)); /* a full replay would fail above */
    tp_nats_expect_stream(srv->url, st->ref, st->nref,
                          tp_js_budget(3 * TP_WAIT_MS, "TP_ALERTS after the take-over"));
    /* i0's saves, then i1's after its replay: three a partition so far. */
    for (unsigned p = 0; p < TP_JS_N_PART; p++)
        s_expect_two_kept(srv->url, p);

    /* A clean stop saves every partition; partition 0's goes bad. */
    char *log = tp_dfx_stop(d1);
    free(log);
    s_corrupt_snapshot(srv->url, 0);
    tp_dfx_t *d2 = s_spawn(srv->url, 2);
    s_wait_all_live(d2, "i2 taking over");
    unsigned long long rebuilt[TP_JS_N_PART];
    s_rebuilt(d2, rebuilt);
    /* Partition 0: the bad one counted, the good one before it loaded. */
    assert_true(s_metric(d2, "snapshots_loaded_total") == TP_JS_N_PART);
    assert_true(s_metric(d2, "snapshots_bad_total") == 1);
    for (unsigned p = 0; p < TP_JS_N_PART; p++)
        assert_true(rebuilt[p] == 0); /* nothing after the snapshots of the clean stop */
    log = tp_dfx_stop(d2);
    assert_int_equal(tp_dfx_stat(log, "nats_termed"), 0);
    free(log);
    tp_nats_expect_stream(srv->url, st->ref, st->nref,
                          tp_js_budget(3 * TP_WAIT_MS, "TP_ALERTS after the bad snapshot"));

    tp_dfx_free(d0);
    tp_dfx_free(d1);
    tp_dfx_free(d2);
    tp_nats_stop(srv);
    tp_js_stream_free(&st);
}

/* A member joins: the instance that gives partitions back saves each one
 * first, while its key is still renewed, so the newcomer loads that
 * snapshot and replays nothing. snapshot_every is far above the events
 * sent, so no other snapshot exists: without the save at hand-over the
 * newcomer replays every event of the partitions it gets. */
static void test_handover_saves_first(void **state) {
    (void)state;
    tp_nats_skip_without_server();
    tp_js_budget_start(BUDGET_MS);
    tp_js_stream_t *st = tp_js_stream_new();
    tp_nats_srv_t  *srv = tp_nats_start();
    tp_dfx_t       *d0 = s_spawn_every(srv->url, 0, 1000000);
    unsigned long   sent = s_publish_two_parts(d0, srv->url, st);
    assert_true(s_metric(d0, "snapshots_saved_total") == 0);

    /* i1 joins; i0 gives back one partition per round down to its share. */
    tp_dfx_t *d1 = s_spawn_every(srv->url, 1, 1000000);
    long long deadline = tp_now_ms() + tp_js_budget(6 * TP_WAIT_MS, "i1 taking its share");
    while (s_metric(d1, "rebuilds_total") < TP_JS_N_PART / 2) {
        if (tp_now_ms() >= deadline) {
            tp_js_dump_log("i1 taking its share", d1);
            fail_msg("i1 did not take its share");
        }
        usleep(20 * 1000);
    }
    double got = s_metric(d1, "rebuilds_total"), loaded = s_metric(d1, "snapshots_loaded_total");
    double replayed = s_metric(d1, "rebuild_events_total");
    print_message("i1 took %.0f partitions over, %.0f from a snapshot saved at hand-over, "
                  "replaying %.0f of %lu events\n",
                  got, loaded, replayed, sent);
    assert_true(s_metric(d0, "snapshots_saved_total") >= got);
    assert_true(loaded == got);
    assert_true(s_metric(d1, "snapshots_bad_total") == 0);
    assert_true(replayed == 0);

    /* Nothing lost, nothing twice: the rest through both. */
    tp_js_publish(d1, srv->url, st->parts[2]);
    tp_nats_expect_stream(srv->url, st->ref, st->nref,
                          tp_js_budget(3 * TP_WAIT_MS, "TP_ALERTS after the hand-over"));
    char *log = tp_dfx_stop(d1);
    free(log);
    log = tp_dfx_stop(d0);
    free(log);
    tp_dfx_free(d0);
    tp_dfx_free(d1);
    tp_nats_stop(srv);
    tp_js_stream_free(&st);
}

TP_TEST_MAIN(cmocka_unit_test(test_takeover_from_snapshot),
             cmocka_unit_test(test_handover_saves_first))
