/* test_dash_stream — the dashboard's SSE stream (/v1/alerts/stream) on the
 * real daemon, over raw loopback sockets: the snapshot then FIRING and
 * RESOLVED, resume by Last-Event-ID (and a fresh snapshot when the id is
 * older than the ring), the keep-alive comment, the stream limit, a client
 * that never reads cut, and the daemon's memory bounded with many clients
 * that never read a large snapshot. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "tp_config.h"
#include "tp_dash_alerts.h"
#include "tp_testdaemon.h"
#include "tp_testhttp.h"
#include "tp_testutil.h"

#include "dash_events.h"


/* n incomplete calls "<prefix><i>" (territory T-1): n FIRING alerts; waits
 * until the daemon has taken them all. */
static void s_open_alerts(tp_dfx_t *d, const char *prefix, unsigned n, unsigned *sent) {
    char id[32];
    for (unsigned i = 0; i < n; i++) {
        snprintf(id, sizeof id, "%s%u", prefix, i);
        tp_test_call_t c = tp_dash_call(id, ++*sent, 0);
        tp_dfx_send_call(d, &c);
    }
    /* Each raises one alert; the dashboard has it once it is published
     * (after its commit, which the journal's writer thread makes): the
     * fixture's subscriber receiving all n says so. */
    for (unsigned i = 0; i < n; i++) {
        assert_true(tp_dfx_recv_alert(d, TP_WAIT_MS));
        tp_test_alerts_clear(&d->got);
    }
}

/* The id of the latest event in t (after `from`). */
static unsigned long long s_last_id(const tp_test_text_t *t, size_t from) {
    unsigned long long id = 0;
    for (const char *p = strstr(t->buf + from, "id: "); p; p = strstr(p + 1, "\nid: "))
        id = strtoull(p[0] == '\n' ? p + 5 : p + 4, NULL, 10);
    return id;
}

/* The stream: snapshot first, then FIRING and RESOLVED as they are
 * published; a reconnect with Last-Event-ID gets what it missed, no
 * snapshot. */
static void test_stream_fire_resolve(void **state) {
    tp_dfx_t *d = *state = tp_dfx_start_http_with(DASH_ON);
    int       fd = tp_test_connect(d->http_port, 0);
    tp_test_send_request(fd, "GET", "/v1/alerts/stream?territory=T-1", NULL);
    tp_test_text_t t = { 0 };
    assert_true(tp_test_read_until(fd, &t, 0, "event: snapshot\ndata: {", TP_WAIT_MS));
    assert_non_null(strstr(t.buf, "Content-Type: text/event-stream"));
    assert_non_null(strstr(t.buf, "\"alerts\": []")); /* the probes have no territory */

    tp_test_call_t k9 = tp_dash_call("K9", 1, TP_FIELD_PRODUCTS);
    tp_dfx_send_call(d, &k9);
    size_t at = t.len;
    assert_true(tp_test_read_until(fd, &t, at, "\"status\":\"ALERT_STATUS_FIRING\"", TP_WAIT_MS));
    char *ev = strstr(t.buf + at, "id: ");
    assert_non_null(ev);
    unsigned long long fire_id = strtoull(ev + 4, NULL, 10);
    assert_true(fire_id > 0);
    assert_non_null(strstr(t.buf + at,
                           "event: alert\ndata: {\"topic\":\"accountability.call_incomplete\""
                           ",\"alertId\":\"call_incomplete:call/K9\""));
    /* The complete version resolves it. */
    k9 = tp_dash_call("K9", 2, ALL);
    k9.event_id = "K9b";
    tp_dfx_send_call(d, &k9);
    at = t.len;
    assert_true(tp_test_read_until(fd, &t, at, "\"status\":\"ALERT_STATUS_RESOLVED\"", TP_WAIT_MS));
    assert_non_null(strstr(t.buf + at, "call_incomplete:call/K9"));
    close(fd);
    free(t.buf);

    /* Back after the FIRING: only the RESOLVED again, no snapshot. */
    fd = tp_test_connect(d->http_port, 0);
    char hdr[64];
    snprintf(hdr, sizeof hdr, "Last-Event-ID: %llu\r\n", fire_id);
    tp_test_send_request(fd, "GET", "/v1/alerts/stream?territory=T-1", hdr);
    t = (tp_test_text_t){ 0 };
    assert_true(tp_test_read_until(fd, &t, 0, "\"status\":\"ALERT_STATUS_RESOLVED\"", TP_WAIT_MS));
    assert_null(strstr(t.buf, "event: snapshot"));
    assert_null(strstr(t.buf, "ALERT_STATUS_FIRING"));
    close(fd);
    free(t.buf);
    /* An id from elsewhere (ahead of this daemon): a snapshot instead. */
    fd = tp_test_connect(d->http_port, 0);
    tp_test_send_request(fd, "GET", "/v1/alerts/stream", "Last-Event-ID: 99999999\r\n");
    t = (tp_test_text_t){ 0 };
    assert_true(tp_test_read_until(fd, &t, 0, "event: snapshot", TP_WAIT_MS));
    close(fd);
    free(t.buf);
    /* Pages that left are noticed (their slots free) and their requests
     * freed: under ASan a leaked one fails the clean exit below. */
    long long end = tp_now_ms() + TP_WAIT_MS;
    while (tp_test_metric(d->http_port, "touchpointd_dashboard_streams") != 0)
        assert_true(tp_now_ms() < end);
    free(tp_dfx_stop(d));
}

/* At most max_clients streams; a client that never reads is cut once its
 * unsent output passes max_client_buffer, while one that reads goes on. */
static void test_limits(void **state) {
    (void)state;
    tp_dfx_t *d = tp_dfx_start_http_with(
        "dashboard: { enabled: true, max_clients: 2, max_client_buffer: 65536 }");
    int slow = tp_test_connect(d->http_port, 4096), fast = tp_test_connect(d->http_port, 0);
    tp_test_send_request(slow, "GET", "/v1/alerts/stream", NULL);
    tp_test_send_request(fast, "GET", "/v1/alerts/stream", NULL);
    tp_test_text_t t = { 0 };
    assert_true(tp_test_read_until(fast, &t, 0, "event: snapshot", TP_WAIT_MS));
    char *text;
    assert_int_equal(tp_test_get(d->http_port, "GET", "/v1/alerts/stream", NULL, &text), 503);
    free(text);
    assert_true(tp_test_metric(d->http_port, "touchpointd_dashboard_streams_refused_total") == 1);
    assert_true(tp_test_metric(d->http_port, "touchpointd_dashboard_streams") == 2);

    /* Alerts of ~700 bytes until the one that never reads is cut: past
     * what the kernel buffers for it (SO_RCVBUF 4 KiB), then 64 KiB more,
     * then not reading for a second. The reader is never behind for long. */
    char      id[32];
    unsigned  n = 0;
    long long end = tp_now_ms() + TP_WAIT_MS;
    while (tp_test_metric(d->http_port, "touchpointd_dashboard_streams_cut_total") < 1) {
        assert_true(tp_now_ms() < end);
        for (unsigned i = 0; i < 100; i++, n++) {
            snprintf(id, sizeof id, "S%u", n);
            tp_test_call_t c = tp_dash_call(id, n + 1, 0);
            tp_dfx_send_call(d, &c);
            tp_test_read_until(fast, &t, t.len, "\x01never",
                               0); /* read as we go, as a browser does */
        }
        tp_test_read_until(fast, &t, t.len, "\x01never", 100);
    }
    snprintf(id, sizeof id, "call_incomplete:call/S%u\"", n - 1);
    if (!tp_test_read_until(fast, &t, 0, id, TP_WAIT_MS)) {
        char *e = tp_read_file(d->err);
        fail_msg("the reading stream lost %s: %s", id,
                 strstr(e, "stream cut") ? strstr(e, "stream cut") : e);
    }
    assert_true(n >= 100);
    assert_true(tp_test_metric(d->http_port, "touchpointd_dashboard_streams_cut_total") == 1);
    assert_true(tp_test_metric(d->http_port, "touchpointd_dashboard_streams") == 1);
    /* The cut one is closed: draining it ends in EOF. */
    tp_test_text_t st = { 0 };
    assert_false(tp_test_read_until(slow, &st, 0, "\x01never", TP_WAIT_MS));
    free(st.buf);
    assert_int_equal(tp_test_get(d->http_port, "GET", "/healthz", NULL, NULL), 200);
    close(slow);
    close(fast);
    free(t.buf);
    tp_dfx_stop_expect(d, "Dashboard stream cut");
    tp_dfx_free(d);
}

/* The keep-alive comment comes every http.dashboard.keepalive (here
 * 200 ms, against 15 s by default: two of them within the wait prove the
 * key is applied), and not inside the snapshot's data line. */
static void test_keepalive(void **state) {
    tp_dfx_t *d = *state = tp_dfx_start_http_with("dashboard: { enabled: true, keepalive: 200ms }");
    int       fd = tp_test_connect(d->http_port, 0);
    tp_test_send_request(fd, "GET", "/v1/alerts/stream", NULL);
    tp_test_text_t t = { 0 };
    assert_true(tp_test_read_until(fd, &t, 0, "\"listed\": ", TP_WAIT_MS));
    char *snap = strstr(t.buf, "event: snapshot\ndata: ");
    assert_non_null(snap);
    size_t at = (size_t)(strstr(snap, "\n\n") - t.buf);
    assert_true(tp_test_read_until(fd, &t, at, ": keep-alive\n\n", 5000));
    at = (size_t)(strstr(t.buf + at, ": keep-alive\n\n") - t.buf) + 1;
    assert_true(tp_test_read_until(fd, &t, at, ": keep-alive\n\n", 5000));
    close(fd);
    free(t.buf);
}

/* A Last-Event-ID the ring of TP_DASH_RESUME_RING transitions still
 * reaches resumes (only what came after it); one older than the ring gets
 * a fresh snapshot listing every open alert, then the stream goes on. */
static void test_resume_older_than_ring(void **state) {
    tp_dfx_t *d = *state = tp_dfx_start_http_with(DASH_ON);
    unsigned  sent = 0;
    s_open_alerts(d, "A", 1, &sent);
    int fd = tp_test_connect(d->http_port, 0);
    tp_test_send_request(fd, "GET", "/v1/alerts/stream?territory=T-1", NULL);
    tp_test_text_t t = { 0 };
    assert_true(tp_test_read_until(fd, &t, 0, "\"listed\": 1}", TP_WAIT_MS));
    unsigned long long first = s_last_id(&t, 0);
    close(fd);
    free(t.buf);
    assert_true(first > 0);
    /* More transitions than the ring holds, after `first`. */
    enum { N = TP_DASH_RESUME_RING + 10 };
    s_open_alerts(d, "B", N, &sent);

    /* Ten from the end: those ten alerts, no snapshot. */
    fd = tp_test_connect(d->http_port, 0);
    char hdr[64];
    snprintf(hdr, sizeof hdr, "Last-Event-ID: %llu\r\n", first + N - 10);
    tp_test_send_request(fd, "GET", "/v1/alerts/stream?territory=T-1", hdr);
    t = (tp_test_text_t){ 0 };
    char last[64];
    snprintf(last, sizeof last, "\"callId\":\"B%u\"", N - 1);
    assert_true(tp_test_read_until(fd, &t, 0, last, TP_WAIT_MS));
    assert_null(strstr(t.buf, "event: snapshot"));
    size_t events = 0;
    for (const char *p = strstr(t.buf, "event: alert\n"); p; p = strstr(p + 1, "event: alert\n"))
        events++;
    assert_int_equal(events, 10);
    close(fd);
    free(t.buf);

    /* `first` itself is out of the ring: a snapshot of all N + 1. */
    fd = tp_test_connect(d->http_port, 0);
    snprintf(hdr, sizeof hdr, "Last-Event-ID: %llu\r\n", first);
    tp_test_send_request(fd, "GET", "/v1/alerts/stream?territory=T-1", hdr);
    t = (tp_test_text_t){ 0 };
    char listed[64];
    snprintf(listed, sizeof listed, "\"listed\": %u}", N + 1);
    assert_true(tp_test_read_until(fd, &t, 0, listed, TP_WAIT_MS));
    assert_non_null(strstr(t.buf, "event: snapshot\ndata: {"));
    assert_null(strstr(t.buf, "event: alert\n"));
    /* ...and the live ones after it. */
    tp_test_call_t c = tp_dash_call("LIVE", ++sent, 0);
    tp_dfx_send_call(d, &c);
    assert_true(tp_test_read_until(fd, &t, 0, "\"callId\":\"LIVE\"", TP_WAIT_MS));
    close(fd);
    free(t.buf);
}

/* A large snapshot and CLIENTS streams that never read it: the daemon
 * writes each one a slice at a time as it is taken, so they cost it a few
 * MB, not CLIENTS copies of the snapshot (about 7 MB each here: 230 MB when
 * they were built whole); they are cut at the keep-alive; a client that
 * reads gets the whole snapshot meanwhile. */
static void test_snapshot_memory_bounded(void **state) {
    (void)state;
    enum { N = 12000, CLIENTS = 32 };
    tp_dfx_t *d = tp_dfx_start_http_with("dashboard: { enabled: true, max_clients: 40, "
                                         "keepalive: 500ms }");
    unsigned  sent = 0;
    s_open_alerts(d, "M", N, &sent);
    char listed[64];
    snprintf(listed, sizeof listed, "\"listed\": %u}", N);
    /* One reader first: every alert's JSON is made (and kept) now. */
    int fd = tp_test_connect(d->http_port, 0);
    tp_test_send_request(fd, "GET", "/v1/alerts/stream?territory=T-1", NULL);
    tp_test_text_t t = { 0 };
    assert_true(tp_test_read_until(fd, &t, 0, listed, TP_WAIT_MS));
    size_t snapshot_bytes = t.len;
    close(fd);
    free(t.buf);
    assert_true(snapshot_bytes > 6 * 1000 * 1000);
    long long end = tp_now_ms() + TP_WAIT_MS;
    while (tp_test_metric(d->http_port, "touchpointd_dashboard_streams") != 0)
        assert_true(tp_now_ms() < end);
    long rss0 = tp_test_rss_kib(d->proc.pid);
    assert_true(rss0 > 0);

    int stuck[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        stuck[i] = tp_test_connect(d->http_port, 4096);
        tp_test_send_request(stuck[i], "GET", "/v1/alerts/stream", NULL);
    }
    /* All taken (the gauge), and whatever a stream's start queues is queued. */
    while (tp_test_metric(d->http_port, "touchpointd_dashboard_streams") < CLIENTS &&
           tp_test_metric(d->http_port, "touchpointd_dashboard_streams_cut_total") < 1)
        assert_true(tp_now_ms() < end);
    long rss1 = tp_test_rss_kib(d->proc.pid);
    print_message("snapshot %zu bytes; RSS %ld KiB, with %d clients not reading %ld KiB\n",
                  snapshot_bytes, rss0, CLIENTS, rss1);
    if (rss1 - rss0 > 48 * 1024)
        fail_msg("%d streams that never read grew the daemon by %ld KiB", CLIENTS, rss1 - rss0);

    /* A reader still gets all of it. */
    fd = tp_test_connect(d->http_port, 0);
    tp_test_send_request(fd, "GET", "/v1/alerts/stream?territory=T-1", NULL);
    t = (tp_test_text_t){ 0 };
    assert_true(tp_test_read_until(fd, &t, 0, listed, TP_WAIT_MS));
    assert_true(t.len >= snapshot_bytes - 1000);
    /* The ones that never read are cut and counted; the reader stays. */
    while (tp_test_metric(d->http_port, "touchpointd_dashboard_streams_cut_total") < CLIENTS)
        assert_true(tp_now_ms() < end);
    assert_true(tp_test_metric(d->http_port, "touchpointd_dashboard_streams_cut_total") == CLIENTS);
    assert_true(tp_test_metric(d->http_port, "touchpointd_dashboard_streams") == 1);
#ifndef __SANITIZE_ADDRESS__ /* ASan's quarantine keeps freed memory resident (256 MB) */
    long rss2 = tp_test_rss_kib(d->proc.pid);
    if (rss2 - rss0 > 48 * 1024)
        fail_msg("after the cuts the daemon is still %ld KiB larger", rss2 - rss0);
#endif
    for (int i = 0; i < CLIENTS; i++)
        close(stuck[i]);
    close(fd);
    free(t.buf);
    tp_dfx_stop_expect(d, "its snapshot not read for a keep-alive interval");
    tp_dfx_free(d);
}

TP_TEST_MAIN(cmocka_unit_test_teardown(test_stream_fire_resolve, tp_dfx_teardown),
             cmocka_unit_test_teardown(test_keepalive, tp_dfx_teardown),
             cmocka_unit_test_teardown(test_resume_older_than_ring, tp_dfx_teardown),
             cmocka_unit_test(test_limits), cmocka_unit_test(test_snapshot_memory_bounded))
