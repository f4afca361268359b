/* test_curve — CURVE on every endpoint of the real daemon, the ZAP
 * handler's allow-lists, the key-file rules and tp-keygen.
 *
 * Keys are made at test time with zmq_curve_keypair() (the fixture writes
 * the daemon's key file and an allow-list holding one client key). That a
 * refused peer got nothing is shown after its handshake is known to have
 * failed (a socket monitor on the client says so) and after an allowed
 * peer's traffic went through: no sleeps stand in for proof.
 */
#include <errno.h>
#include <event2/event.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>
#include <zmq.h>

#include "tp_config.h"
#include "tp_curve_key.h"
#include "tp_testdaemon.h"
#include "tp_testmonitor.h"
#include "tp_testmsg.h"
#include "tp_zap.h"
#include "tp_testutil.h"

#define T0        1767225600000LL
#define SUBMITTED TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_SUBMITTED
static void s_send_call(void *sock, const char *id) {
    tp_test_call_t c = { .event_id = id, .at_ms = T0, .call_id = id, .status = SUBMITTED };
    uint8_t       *buf;
    size_t         len = tp_test_pack_call(&c, &buf);
    assert_int_equal(zmq_send(sock, "crm.call", 8, ZMQ_SNDMORE), 8);
    assert_int_equal(zmq_send(sock, buf, len, 0), (int)len);
    free(buf);
}

/* Sends a call from the allowed publisher and waits for its alert. */
static void s_allowed_roundtrip(tp_dfx_t *d, const char *id) {
    s_send_call(d->pub, id);
    assert_true(tp_dfx_recv_alert(d, TP_WAIT_MS));
    assert_int_equal(d->got.n, 1);
    assert_string_equal(d->got.alerts[0]->call_id, id);
}

/* (1) The fixture's publisher and subscriber are CURVE clients with the
 * listed key: events go in and alerts come out. */
static void test_allowed_producer_is_processed(void **state) {
    tp_dfx_t *d = *state = tp_dfx_start_curve("event", NULL);
    s_allowed_roundtrip(d, "C-allowed");
    char *log = tp_dfx_stop(d);
    TP_EXPECT_STATS(log, { "accepted", d->probes + 1 }, { "zap_denied", 0 });
    assert_non_null(strstr(log, d->server_public)); /* logged at start */
    free(log);
}

/* (2) A valid CURVE keypair that is not listed: ZAP refuses the handshake,
 * the refusal is counted and logged with the key, nothing it sent counts. */
static void test_unlisted_producer_is_refused_and_counted(void **state) {
    tp_dfx_t *d = *state = tp_dfx_start_curve("event", NULL);
    char      pub[41], sec[41];
    assert_int_equal(zmq_curve_keypair(pub, sec), 0);
    void *mon, *evil = tp_dfx_curve_connect(d, ZMQ_PUB, d->in_ep, pub, sec, &mon);
    assert_int_equal(tp_test_handshake(mon, NULL), ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
    for (int i = 0; i < 10; i++)
        s_send_call(evil, "C-evil");
    s_allowed_roundtrip(d, "C-good");
    tp_test_monitored_close(evil, mon);
    char *log = tp_dfx_stop(d);
    assert_true(tp_dfx_stat(log, "zap_denied") >= 1);
    TP_EXPECT_STATS(log, { "received", d->probes + 1 }, { "accepted", d->probes + 1 });
    char want[128];
    snprintf(want, sizeof want, "Refused CURVE client %s on inputs[0]", pub);
    assert_non_null(strstr(log, want));
    assert_null(strstr(log, "C-evil"));
    free(log);
}

/* Key rotation is an edit and a SIGHUP: the allow-list files are read
 * again, and a bad one refuses the reload with file:line. */
static void test_reload_rereads_allow_lists(void **state) {
    tp_dfx_t *d = *state = tp_dfx_start_curve("event", NULL);
    char      pub[41], sec[41];
    assert_int_equal(zmq_curve_keypair(pub, sec), 0);
    assert_int_equal(tp_dfx_curve_try(d, ZMQ_PUB, d->in_ep, pub, sec),
                     ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);

    char *keys = tp_read_file(d->clients_file), *more = NULL;
    assert_true(asprintf(&more, "%s# added by the operator\n%s\n", keys, pub) > 0);
    assert_int_equal(tp_write_file(d->clients_file, "not-a-key\n"), 0);
    assert_false(tp_dfx_reload(d, "event", NULL));
    char *log = tp_read_file(d->err), want[4300];
    snprintf(want, sizeof want, "%s:1: not a Z85 public key", d->clients_file);
    assert_non_null(strstr(log, want));
    free(log);
    /* The refused file did not lock anyone out: the fixture's keys still work. */
    s_allowed_roundtrip(d, "C-still");

    assert_int_equal(tp_write_file(d->clients_file, more), 0);
    assert_true(tp_dfx_reload(d, "event", NULL));
    assert_int_equal(tp_dfx_curve_try(d, ZMQ_PUB, d->in_ep, pub, sec),
                     ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
    free(keys);
    free(more);
}

/* (3) A plain (NULL mechanism) producer never completes a handshake. */
static void test_plain_producer_gets_nothing_through(void **state) {
    tp_dfx_t *d = *state = tp_dfx_start_curve("event", NULL);
    void     *mon, *plain = tp_test_monitored(d->zctx, ZMQ_PUB, &mon);
    assert_int_equal(zmq_connect(plain, d->in_ep), 0);
    int ev = tp_test_handshake(mon, NULL);
    assert_true(ev == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ||
                ev == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL);
    for (int i = 0; i < 10; i++)
        s_send_call(plain, "C-plain");
    s_allowed_roundtrip(d, "C-good");
    tp_test_monitored_close(plain, mon);
    char *log = tp_dfx_stop(d);
    assert_int_equal(tp_dfx_stat(log, "received"), d->probes + 1);
    free(log);
}

/* (4) On the alert output: the allowed subscriber gets the alert; an
 * unlisted one and a plain one, both connected before it was sent, get
 * nothing. Checked once the allowed one has it. */
static void test_unlisted_subscriber_receives_nothing(void **state) {
    tp_dfx_t *d = *state = tp_dfx_start_curve("event", NULL);
    char      pub[41], sec[41];
    assert_int_equal(zmq_curve_keypair(pub, sec), 0);
    void *mon1, *evil = tp_test_monitored(d->zctx, ZMQ_SUB, &mon1);
    void *mon2, *plain = tp_test_monitored(d->zctx, ZMQ_SUB, &mon2);
    tp_dfx_curve_client(d, evil, pub, sec);
    zmq_setsockopt(evil, ZMQ_SUBSCRIBE, "", 0);
    zmq_setsockopt(plain, ZMQ_SUBSCRIBE, "", 0);
    assert_int_equal(zmq_connect(evil, d->out_ep), 0);
    assert_int_equal(zmq_connect(plain, d->out_ep), 0);
    assert_int_equal(tp_test_handshake(mon1, NULL), ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
    assert_true(tp_test_handshake(mon2, NULL) != ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
    s_allowed_roundtrip(d, "C-for-subscribers");
    zmq_pollitem_t items[2] = { { .socket = evil, .events = ZMQ_POLLIN },
                                { .socket = plain, .events = ZMQ_POLLIN } };
    assert_int_equal(zmq_poll(items, 2, 0), 0);
    tp_test_monitored_close(evil, mon1);
    tp_test_monitored_close(plain, mon2);
    char *log = tp_dfx_stop(d);
    char  want[128];
    snprintf(want, sizeof want, "Refused CURVE client %s on output", pub);
    assert_non_null(strstr(log, want));
    assert_true(tp_dfx_stat(log, "zap_denied") >= 1);
    free(log);
}

/* (5) A secret key file others can read: the daemon does not start. */
static void test_world_readable_key_is_refused(void **state) {
    tp_dfx_t *d = *state = tp_dfx_setup(true);
    assert_int_equal(chmod(d->key_file, 0644), 0);
    tp_dfx_write_config(d, d->cfg, "event", NULL);
    tp_dfx_expect_refusal(d, "Refusing to start: ");
    TP_EXPECT_FILE_HAS(d->err, "curve.secret_key_file");
    TP_EXPECT_FILE_HAS(d->err, "readable or writable by others");
    /* World-writable too; 0640 (the fixture's) starts, as every other test shows. */
    assert_int_equal(chmod(d->key_file, 0602), 0);
    tp_dfx_expect_refusal(d, "readable or writable by others");
}

/* (6) tp_zap_load swaps a domain's list whole: a bad file leaves the old
 * list in force, a good one replaces it, and the handler answers with the
 * list in force at the time of the handshake. */
static void test_zap_load_swaps_allow_list(void **state) {
    (void)state;
    char *dir = tp_tmpdir();
    char *a = tp_path(dir, "a"), *b = tp_path(dir, "b"), *bad = tp_path(dir, "bad");
    char  k1p[41], k1s[41], k2p[41], k2s[41], k3p[41], k3s[41], srvp[41], srvs[41], text[512];
    assert_int_equal(zmq_curve_keypair(k1p, k1s), 0);
    assert_int_equal(zmq_curve_keypair(k2p, k2s), 0);
    assert_int_equal(zmq_curve_keypair(k3p, k3s), 0);
    assert_int_equal(zmq_curve_keypair(srvp, srvs), 0);
    snprintf(text, sizeof text, "%s\n", k1p);
    assert_int_equal(tp_write_file(a, text), 0);
    snprintf(text, sizeof text, "# two keys, one twice\n  %s \n\n%s\n%s\n", k2p, k3p, k2p);
    assert_int_equal(tp_write_file(b, text), 0);
    snprintf(text, sizeof text, "%s\n# fine\nnot-a-key\n", k2p);
    assert_int_equal(tp_write_file(bad, text), 0);

    struct event_base *base = event_base_new();
    void              *ctx = zmq_ctx_new();
    tp_stats_t         st = { 0 };
    tp_ratelimit_t     rl = { .interval_ms = 1000, .burst = 10 };
    tp_zap_t          *z = NULL;
    assert_int_equal(tp_zap_new(base, ctx, &st, &rl, &z), 0);
    assert_int_equal(tp_zap_load(z, "inputs[0]", a), 0);
    assert_int_equal(tp_zap_count(z, "inputs[0]"), 1);
    assert_int_equal(tp_zap_load(z, "inputs[0]", bad), -EBADMSG);
    assert_int_equal(tp_zap_bad_line(z), 3);
    assert_int_equal(tp_zap_load(z, "inputs[0]", "/nonexistent/list"), -ENOENT);
    assert_int_equal(tp_zap_count(z, "inputs[0]"), 1); /* a still in force */

    /* A CURVE server in the same context, domain inputs[0]. */
    void *srv = zmq_socket(ctx, ZMQ_ROUTER);
    int   one = 1, zero = 0;
    zmq_setsockopt(srv, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(srv, ZMQ_CURVE_SERVER, &one, sizeof one);
    zmq_setsockopt(srv, ZMQ_CURVE_SECRETKEY, srvs, 40);
    zmq_setsockopt(srv, ZMQ_ZAP_DOMAIN, "inputs[0]", 9);
    char ep[300];
    snprintf(ep, sizeof ep, "ipc://%s/srv.sock", dir);
    assert_int_equal(zmq_bind(srv, ep), 0);
    tp_dfx_t keys = { 0 };
    memcpy(keys.server_public, srvp, 41);

    const struct {
        const char *pub, *sec;
        bool        load_b;
        int         want;
    } cases[] = {
        { k1p, k1s, false, ZMQ_EVENT_HANDSHAKE_SUCCEEDED },
        { k2p, k2s, false, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH },
        { k2p, k2s, true, ZMQ_EVENT_HANDSHAKE_SUCCEEDED }, /* after swapping in b */
        { k3p, k3s, false, ZMQ_EVENT_HANDSHAKE_SUCCEEDED },
        { k1p, k1s, false, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (cases[i].load_b) {
            assert_int_equal(tp_zap_load(z, "inputs[0]", b), 0);
            assert_int_equal(tp_zap_count(z, "inputs[0]"), 2);
        }
        void *mon, *c = tp_test_monitored(ctx, ZMQ_DEALER, &mon);
        tp_dfx_curve_client(&keys, c, cases[i].pub, cases[i].sec);
        assert_int_equal(zmq_connect(c, ep), 0);
        assert_int_equal(tp_test_handshake(mon, base), cases[i].want);
        tp_test_monitored_close(c, mon);
    }
    assert_true(st.zap_denied >= 2);
    /* Another domain is unknown: refused (fail closed). */
    assert_int_equal(tp_zap_count(z, "output"), 0);

    zmq_close(srv);
    tp_zap_destroy(&z);
    assert_null(z);
    tp_zap_destroy(NULL);
    zmq_ctx_term(ctx);
    event_base_free(base);
    tp_rmrf(dir);
    free(a);
    free(b);
    free(bad);
    free(dir);
}

/* Key files: tp_curve_key_read derives the right public key and refuses
 * files others can read and files without a key; lines are keys, blanks,
 * comments or errors. */
static void test_key_files(void **state) {
    (void)state;
    char   *dir = tp_tmpdir(), *path = tp_path(dir, "k");
    char    pub[41], sec[41], rp[41], rs[41], text[256];
    uint8_t raw[32];
    assert_int_equal(zmq_curve_keypair(pub, sec), 0);
    snprintf(text, sizeof text, "# comment\n\n%s\n", sec);
    assert_int_equal(tp_write_file(path, text), 0);
    assert_int_equal(chmod(path, 0600), 0);
    assert_int_equal(tp_curve_key_read(path, rp, rs), 0);
    assert_string_equal(rp, pub);
    assert_string_equal(rs, sec);
    assert_int_equal(chmod(path, 0604), 0);
    assert_int_equal(tp_curve_key_read(path, rp, rs), -EPERM);
    assert_int_equal(tp_write_file(path, "# nothing\nshort\n"), 0);
    assert_int_equal(chmod(path, 0600), 0);
    assert_int_equal(tp_curve_key_read(path, rp, rs), -EBADMSG);
    assert_int_equal(tp_curve_key_parse_line("# a comment", raw), 1);
    assert_int_equal(tp_curve_key_parse_line("   \r\n", raw), 1);
    assert_int_equal(tp_curve_key_parse_line("#0000000000000000000000000000000000000000", raw), 1);
    assert_int_equal(tp_curve_key_parse_line("0000000000000000000000000000000000000000", raw), 0);
    assert_int_equal(tp_curve_key_parse_line("000000000000000000000000000000000000000~", raw),
                     -EINVAL);
    assert_int_equal(tp_curve_key_parse_line("00000", raw), -EINVAL);
    tp_rmrf(dir);
    free(path);
    free(dir);
}

/* tp-keygen prints a matching pair; --write makes 0600 + 0644 files that
 * the daemon's reader accepts, and never overwrites. */
static void test_keygen(void **state) {
    (void)state;
    char       *dir = tp_tmpdir(), *out = tp_path(dir, "out"), *err = tp_path(dir, "err");
    char       *key = tp_path(dir, "server.key"), *pubf = tp_path(dir, "server.key.pub");
    const char *plain[] = { TP_KEYGEN_BIN, NULL };
    assert_int_equal(tp_run(plain, out, err, TP_WAIT_MS), 0);
    char *text = tp_read_file(out), pub[41], sec[41], derived[41];
    assert_int_equal(strlen(text), 2 * (13 + 40 + 1));
    assert_int_equal(sscanf(text, "public-key = %40s\nsecret-key = %40s\n", pub, sec), 2);
    assert_int_equal(zmq_curve_public(derived, sec), 0);
    assert_string_equal(derived, pub);
    free(text);

    const char *wr[] = { TP_KEYGEN_BIN, "--write", key, NULL };
    assert_int_equal(tp_run(wr, out, err, TP_WAIT_MS), 0);
    struct stat st;
    assert_int_equal(stat(key, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(stat(pubf, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    char rp[41], rs[41];
    assert_int_equal(tp_curve_key_read(key, rp, rs), 0);
    text = tp_read_file(out);
    assert_int_equal(sscanf(text, "public-key = %40s\n", pub), 1);
    assert_string_equal(pub, rp);
    free(text);
    text = tp_read_file(pubf);
    assert_int_equal(strncmp(text, rp, 40), 0);
    free(text);
    /* Never over an existing key. */
    assert_int_equal(tp_run(wr, out, err, TP_WAIT_MS), 1);
    assert_int_equal(tp_curve_key_read(key, pub, sec), 0);
    assert_string_equal(pub, rp);
    tp_rmrf(dir);
    free(out);
    free(err);
    free(key);
    free(pubf);
    free(dir);
}

static int s_run_tool(tp_dfx_t *d, const char *const argv[], const char *err) {
    tp_proc_t p;
    assert_int_equal(tp_proc_spawn(&p, argv, NULL, NULL, err), 0);
    int r = tp_proc_wait(&p, TP_WAIT_MS);
    (void)d;
    return r;
}

/* argv: args[0], then d's CURVE client options (the listed key), then the
 * rest of args (NULL-terminated, at most 10). */
static void s_curve_argv(const tp_dfx_t *d, const char *argv[16], const char *const args[]) {
    size_t n = 0;
    argv[n++] = args[0];
    argv[n++] = "--curve-server-key";
    argv[n++] = d->server_public;
    argv[n++] = "--curve-secret-key-file";
    argv[n++] = d->client_key_file;
    for (size_t i = 1; args[i]; i++) {
        assert_true(n < 15);
        argv[n++] = args[i];
    }
    argv[n] = NULL;
}

/* tp-pub and tp-tail as CURVE clients with the listed key: events go in
 * on the SUB and the reliable input, alerts come out live and replayed.
 * Without the options tp-pub finds no subscriber; with --bind it refuses. */
static void test_tools_as_curve_clients(void **state) {
    tp_dfx_t   *d = *state = tp_dfx_start_curve("event", NULL);
    char       *err = tp_path(d->dir, "tool.err"), *out = tp_path(d->dir, "tail.out");
    char       *pos = tp_path(d->dir, "tail.pos");
    const char *demo = TP_SOURCE_DIR "/examples/demo.jsonl";

    /* Live tail: synchronised by sending calls until it has printed one. */
    const char *tail[16];
    s_curve_argv(d, tail,
                 (const char *const[]){ TP_TAIL_BIN, "-e", d->out_ep, "--count", "1", NULL });
    tp_proc_t t;
    assert_int_equal(tp_proc_spawn(&t, tail, NULL, out, err), 0);
    int r = -ETIMEDOUT;
    for (long long end = tp_now_ms() + TP_WAIT_MS; r == -ETIMEDOUT && tp_now_ms() < end;) {
        char id[32];
        snprintf(id, sizeof id, "C-tail-%lld", tp_now_ms());
        s_send_call(d->pub, id);
        r = tp_proc_wait(&t, 100);
    }
    assert_int_equal(r, 0);
    TP_EXPECT_FILE_HAS(out, "\"callId\":\"C-tail-");
    while (tp_dfx_recv_alert(d, 200)) /* the sync's alerts */
        ;
    tp_test_alerts_clear(&d->got);

    const char *pub[16];
    s_curve_argv(d, pub, (const char *const[]){ TP_PUB_BIN, "-e", d->in_ep, demo, NULL });
    assert_int_equal(s_run_tool(d, pub, err), 0);
    assert_true(tp_dfx_recv_alert(d, TP_WAIT_MS));
    assert_string_equal(d->got.alerts[0]->call_id, "CALL-1002");

    const char *rel[16];
    s_curve_argv(
        d, rel,
        (const char *const[]){ TP_PUB_BIN, "--reliable", "-e", d->reliable_ep, demo, NULL });
    assert_int_equal(s_run_tool(d, rel, err), 0); /* every event ACKed (duplicates too) */

    /* Replay through CURVE: the first journaled alert is the first probe's. */
    const char *dur[16];
    s_curve_argv(d, dur,
                 (const char *const[]){ TP_TAIL_BIN, "-e", d->out_ep, "--durable", pos,
                                        "--replay-endpoint", d->replay_ep, "--count", "1", NULL });
    assert_int_equal(s_run_tool(d, dur, err), 0);
    char *text = tp_read_file(pos);
    assert_int_equal(strtoull(text, NULL, 10), 1);
    free(text);

    const char *plain[] = { TP_PUB_BIN, "-e", d->in_ep, "--wait-ms", "500", demo, NULL };
    assert_int_equal(s_run_tool(d, plain, err), 2);
    TP_EXPECT_FILE_HAS(err, "no subscriber");
    /* --bind with CURVE is refused for that reason, on an endpoint that
     * binds without CURVE (shown first: tp-pub binds it and only then
     * waits in vain for a subscriber). */
    char *bind_ep = NULL;
    assert_true(asprintf(&bind_ep, "ipc://%s/pub-bind.sock", d->dir) > 0);
    const char *bind_plain[] = {
        TP_PUB_BIN, "--bind", "-e", bind_ep, "--wait-ms", "100", demo, NULL
    };
    assert_int_equal(s_run_tool(d, bind_plain, err), 2);
    text = tp_read_file(err);
    assert_non_null(strstr(text, "no subscriber"));
    assert_null(strstr(text, "cannot bind"));
    free(text);
    const char *bind[16];
    s_curve_argv(d, bind, (const char *const[]){ TP_PUB_BIN, "--bind", "-e", bind_ep, demo, NULL });
    assert_int_equal(s_run_tool(d, bind, err), 2);
    TP_EXPECT_FILE_HAS(err, "--curve-* with --bind is not supported");
    free(bind_ep);
    const char *half[] = { TP_TAIL_BIN, "--curve-server-key", d->server_public, NULL };
    assert_int_equal(s_run_tool(d, half, err), 2);
    TP_EXPECT_FILE_HAS(err, "go together");
    assert_int_equal(chmod(d->client_key_file, 0604), 0);
    assert_int_equal(s_run_tool(d, pub, err), 2);
    TP_EXPECT_FILE_HAS(err, "readable or writable by others");

    char *log = tp_dfx_stop(d);
    assert_int_equal(tp_dfx_stat(log, "zap_denied"), 0);
    free(log);
    free(err);
    free(out);
    free(pos);
}

TP_TEST_MAIN(cmocka_unit_test_teardown(test_allowed_producer_is_processed, tp_dfx_teardown),
             cmocka_unit_test_teardown(test_unlisted_producer_is_refused_and_counted,
                                       tp_dfx_teardown),
             cmocka_unit_test_teardown(test_plain_producer_gets_nothing_through, tp_dfx_teardown),
             cmocka_unit_test_teardown(test_reload_rereads_allow_lists, tp_dfx_teardown),
             cmocka_unit_test_teardown(test_unlisted_subscriber_receives_nothing, tp_dfx_teardown),
             cmocka_unit_test_teardown(test_world_readable_key_is_refused, tp_dfx_teardown),
             cmocka_unit_test(test_zap_load_swaps_allow_list), cmocka_unit_test(test_key_files),
             cmocka_unit_test(test_keygen),
             cmocka_unit_test_teardown(test_tools_as_curve_clients, tp_dfx_teardown))
