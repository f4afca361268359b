/* tp_testnats — see tp_testnats.h. */
#include "tp_testnats.h"
#include "tp_testhttp.h"

#include <errno.h>
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

const char *tp_nats_bin(void) {
    const char *bin = getenv("TP_NATS_SERVER");
    return bin ? bin : "/usr/sbin/nats-server";
}

void tp_nats_skip_without_server(void) {
    if (access(tp_nats_bin(), X_OK) != 0) {
        char why[320];
        snprintf(why, sizeof why, "%s is not installed (apt-get install nats-server)",
                 tp_nats_bin());
        tp_test_skip(why);
    }
}

unsigned tp_nats_free_port(void) {
    unsigned port = tp_free_port();
    assert_true(port > 0);
    return port;
}

/* A server record; with `pick_port` a client port from tp_free_port(),
 * else 0: the server binds any free port (-p -1) and s_read_port() reads
 * it back from its log, so no other process can take it in between. */
static tp_nats_srv_t *s_new(bool pick_port) {
    tp_nats_srv_t *n = calloc(1, sizeof *n);
    assert_non_null(n);
    n->dir = tp_tmpdir();
    assert_non_null(n->dir);
    if (pick_port) {
        n->port = tp_nats_free_port();
        assert_true(asprintf(&n->url, "nats://127.0.0.1:%u", n->port) > 0);
    }
    return n;
}

/* The client port a server started with -p -1 logged. */
static void s_read_port(tp_nats_srv_t *n) {
    static const char needle[] = "Listening for client connections on 127.0.0.1:";
    char             *path = tp_path(n->dir, "nats.log");
    long long         deadline = tp_now_ms() + TP_WAIT_MS;
    for (;;) {
        char         *log = tp_read_file(path);
        const char   *at = log ? strstr(log, needle) : NULL;
        unsigned long port = at ? strtoul(at + strlen(needle), NULL, 10) : 0;
        free(log);
        if (port > 0 && port < 65536) {
            n->port = (unsigned)port;
            break;
        }
        assert_true(tp_now_ms() < deadline);
        assert_int_equal(tp_proc_wait(&n->proc, 20), -ETIMEDOUT); /* still running */
    }
    free(path);
    assert_true(asprintf(&n->url, "nats://127.0.0.1:%u", n->port) > 0);
}

static void s_spawn(tp_nats_srv_t *n, const char *const *extra) {
    char port[16], *sd = tp_path(n->dir, "js"), *log = tp_path(n->dir, "nats.log");
    if (n->port)
        snprintf(port, sizeof port, "%u", n->port);
    else
        snprintf(port, sizeof port, "-1");
    const char *argv[24] = { tp_nats_bin(), "-a", "127.0.0.1", "-p", port, "-js", "-sd", sd };
    size_t      i = 8;
    for (; extra && *extra && i < 23; extra++)
        argv[i++] = *extra;
    argv[i] = NULL;
    assert_int_equal(tp_proc_spawn(&n->proc, argv, NULL, log, log), 0);
    n->running = true;
    free(sd);
    free(log);
}

tp_nats_srv_t *tp_nats_start(void) {
    tp_nats_srv_t *n = s_new(false);
    s_spawn(n, NULL);
    s_read_port(n);
    long long deadline = tp_now_ms() + TP_WAIT_MS;
    for (;;) {
        natsConnection *nc = NULL;
        if (natsConnection_ConnectTo(&nc, n->url) == NATS_OK) {
            natsConnection_Destroy(nc);
            break;
        }
        assert_true(tp_now_ms() < deadline);
        assert_int_equal(tp_proc_wait(&n->proc, 50), -ETIMEDOUT); /* still running */
    }
    return n;
}

void tp_nats_start_cluster(tp_nats_srv_t **srv, size_t n, char **ret_urls) {
    char urls[1024] = "", routes[1024] = "";
    for (size_t i = 0; i < n; i++) {
        /* Free ports picked here, not -1: a JetStream cluster needs every
         * server's route (its cluster port) on each command line at start,
         * before any of them could report a port it chose. */
        srv[i] = s_new(true);
        srv[i]->cluster_port = tp_nats_free_port();
        assert_true(asprintf(&srv[i]->name, "n%zu", i) > 0);
        assert_true(asprintf(&srv[i]->cluster_url, "nats://127.0.0.1:%u", srv[i]->cluster_port) >
                    0);
        size_t ul = strlen(urls), rl = strlen(routes);
        snprintf(urls + ul, sizeof urls - ul, "%s%s", i ? "," : "", srv[i]->url);
        snprintf(routes + rl, sizeof routes - rl, "%s%s", i ? "," : "", srv[i]->cluster_url);
    }
    for (size_t i = 0; i < n; i++) {
        const char *extra[] = { "-n",       srv[i]->name, "--cluster_name",
                                "tp-test",  "--cluster",  srv[i]->cluster_url,
                                "--routes", routes,       NULL };
        s_spawn(srv[i], extra);
    }
    /* JetStream answers once the servers found each other and elected a
     * meta leader. */
    long long deadline = tp_now_ms() + 3 * TP_WAIT_MS;
    for (;;) {
        natsConnection *nc = NULL;
        jsCtx          *js = NULL;
        jsAccountInfo  *ai = NULL;
        bool            ok = natsConnection_ConnectTo(&nc, urls) == NATS_OK &&
                  natsConnection_JetStream(&js, nc, NULL) == NATS_OK &&
                  js_GetAccountInfo(&ai, js, NULL, NULL) == NATS_OK;
        jsAccountInfo_Destroy(ai);
        jsCtx_Destroy(js);
        natsConnection_Destroy(nc);
        if (ok)
            break;
        assert_true(tp_now_ms() < deadline);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(tp_proc_wait(&srv[i]->proc, 30), -ETIMEDOUT);
    }
    *ret_urls = strdup(urls);
}

void tp_nats_kill(tp_nats_srv_t *n) {
    tp_proc_reap(&n->proc);
    n->running = false;
}

void tp_nats_stop(tp_nats_srv_t *n) {
    if (!n)
        return;
    tp_proc_reap(&n->proc);
    tp_rmrf(n->dir);
    free(n->dir);
    free(n->url);
    free(n->name);
    free(n->cluster_url);
    free(n);
}

int tp_nats_tp_pub(const tp_dfx_t *d, const char *const *args, char **ret_err) {
    const char *argv[16] = { TP_PUB_BIN };
    size_t      i = 1;
    for (; args[i - 1] && i < 15; i++)
        argv[i] = args[i - 1];
    argv[i] = NULL;
    char     *err = tp_path(d->dir, "tp-pub.err");
    tp_proc_t p;
    assert_int_equal(tp_proc_spawn(&p, argv, NULL, NULL, err), 0);
    int r = tp_proc_wait(&p, 3 * TP_WAIT_MS);
    if (ret_err)
        *ret_err = tp_read_file(err);
    free(err);
    return r;
}

static int s_cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

size_t tp_nats_key(char **keys, size_t n, const Touchpoint__V1__Alert *a) {
    if (a->call_id && strncmp(a->call_id, "probe-", 6) == 0)
        return n;
    assert_true(asprintf(&keys[n], "%s|%d", a->alert_id, (int)a->status) > 0);
    return n + 1;
}

void tp_nats_free_keys(char **keys, size_t n) {
    for (size_t i = 0; i < n; i++)
        free(keys[i]);
}

size_t tp_nats_stream_alerts(const char *url, char **keys, size_t max) {
    natsConnection   *nc = NULL;
    jsCtx            *js = NULL;
    natsSubscription *sub = NULL;
    assert_int_equal(natsConnection_ConnectTo(&nc, url), NATS_OK);
    assert_int_equal(natsConnection_JetStream(&js, nc, NULL), NATS_OK);
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = "TP_ALERTS";
    so.Config.AckPolicy = js_AckNone;
    so.Config.DeliverPolicy = js_DeliverAll;
    size_t n = 0;
    /* Right after a server was killed the stream may need a new leader. */
    natsStatus st = js_SubscribeSync(&sub, js, "tp.alerts.>", NULL, &so, NULL);
    if (st != NATS_OK)
        print_message("reading TP_ALERTS: %s (%s)\n", natsStatus_GetText(st),
                      nats_GetLastError(NULL) ? nats_GetLastError(NULL) : "");
    if (st == NATS_OK) {
        natsMsg *m = NULL;
        while (natsSubscription_NextMsg(&m, sub, 300) == NATS_OK) {
            Touchpoint__V1__Alert *a = touchpoint__v1__alert__unpack(
                NULL, (size_t)natsMsg_GetDataLength(m), (const uint8_t *)natsMsg_GetData(m));
            assert_non_null(a);
            assert_true(n < max);
            n = tp_nats_key(keys, n, a);
            touchpoint__v1__alert__free_unpacked(a, NULL);
            natsMsg_Destroy(m);
        }
        natsSubscription_Unsubscribe(sub); /* the ephemeral consumer goes now */
        natsSubscription_Destroy(sub);
    }
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    qsort(keys, n, sizeof *keys, s_cmp);
    return n;
}

size_t tp_nats_reference(const char *const *inputs, char **keys, size_t max) {
    tp_dfx_t *ref = tp_dfx_start("event", NULL);
    for (size_t i = 0; inputs[i]; i++) {
        const char *args[] = { "--reliable", "-e", ref->reliable_ep, inputs[i], NULL };
        assert_int_equal(tp_nats_tp_pub(ref, args, NULL), 0);
    }
    while (tp_dfx_recv_alert(ref, 500))
        ;
    size_t n = 0;
    for (size_t i = 0; i < ref->got.n; i++) {
        assert_true(n < max);
        n = tp_nats_key(keys, n, ref->got.alerts[i]);
    }
    tp_dfx_free(ref);
    qsort(keys, n, sizeof *keys, s_cmp);
    return n;
}

void tp_nats_expect_keys(char **keys, size_t n, const char *const *want) {
    size_t i = 0;
    bool   same = true;
    for (; want[i]; i++)
        same = same && i < n && strcmp(keys[i], want[i]) == 0;
    if (same && i == n)
        return;
    for (size_t j = 0; j < n; j++)
        print_message("    \"%s\",\n", keys[j]);
    fail_msg("the alerts differ from the %zu expected ones (got %zu, listed above)", i, n);
}

void tp_nats_expect_stream(const char *url, char **ref, size_t nref, long long wait_ms) {
    size_t max = nref + 1024;
    char **got = calloc(max, sizeof *got);
    assert_non_null(got);
    long long deadline = tp_now_ms() + wait_ms;
    for (;;) {
        size_t n = tp_nats_stream_alerts(url, got, max);
        bool   same = n == nref;
        for (size_t i = 0; same && i < n; i++)
            same = strcmp(got[i], ref[i]) == 0;
        if (same) {
            tp_nats_free_keys(got, n);
            free(got);
            return;
        }
        if (tp_now_ms() >= deadline) {
            for (size_t i = 0; i < n || i < nref; i++)
                print_message("%-60s %s\n", i < n ? got[i] : "-", i < nref ? ref[i] : "-");
            fail_msg("TP_ALERTS holds %zu alerts, the single-node run raised %zu", n, nref);
        }
        tp_nats_free_keys(got, n);
    }
}

char *tp_nats_http_get(unsigned port, const char *path) {
    tp_test_resp_t r = tp_test_http_request(port, EVHTTP_REQ_GET, path);
    assert_int_equal(r.code, 200);
    char *body = r.body;
    r.body = NULL;
    tp_test_resp_free(&r);
    return body;
}

double tp_nats_metric(unsigned port, const char *name) {
    char *text = tp_nats_http_get(port, "/metrics"), needle[160];
    snprintf(needle, sizeof needle, "\n%s ", name);
    const char *at = strstr(text, needle);
    if (!at)
        fail_msg("/metrics has no %s", name);
    double v = strtod(at + strlen(needle), NULL);
    free(text);
    return v;
}
