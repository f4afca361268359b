/* test_ingest — POST /v1/events on the real daemon: JSON events in over
 * HTTP (libevent's client), alerts out on the bus; batches with refused
 * items, duplicates, every 4xx, the bearer token (and its reload), and a
 * 200 that survives SIGKILL. With TP_BENCH=1 in the environment it also
 * measures events/s over HTTP (batches of 1 and 500) and over ZeroMQ's
 * reliable input. */
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <jansson.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zmq.h>
#include <cmocka.h>

#include "tp_config.h"
#include "tp_testdaemon.h"

#define T0        1767225600000LL
#define H         3600000LL
#define INGEST_ON "ingest: { enabled: true }"

typedef struct {
    int     code;
    char   *body, *www_auth, *allow;
    json_t *doc; /* body parsed, if it was JSON */
    bool    done;
} s_resp_t;

/* One keep-alive connection of libevent's HTTP client. */
typedef struct {
    struct event_base        *base;
    struct evhttp_connection *conn;
} s_client_t;

static s_client_t s_client(unsigned port) {
    s_client_t c = { .base = event_base_new() };
    c.conn = evhttp_connection_base_new(c.base, NULL, "127.0.0.1", (unsigned short)port);
    evhttp_connection_set_timeout(c.conn, 10);
    return c;
}

static void s_client_free(s_client_t *c) {
    evhttp_connection_free(c->conn);
    event_base_free(c->base);
}

static char *s_header(struct evhttp_request *req, const char *name) {
    const char *v = evhttp_find_header(evhttp_request_get_input_headers(req), name);
    return v ? strdup(v) : NULL;
}

static void s_done_cb(struct evhttp_request *req, void *arg) {
    s_resp_t *r = arg;
    r->done = true;
    if (req && (r->code = evhttp_request_get_response_code(req)) > 0) {
        struct evbuffer *b = evhttp_request_get_input_buffer(req);
        size_t           len = evbuffer_get_length(b);
        r->body = calloc(1, len + 1);
        evbuffer_remove(b, r->body, len);
        r->www_auth = s_header(req, "WWW-Authenticate");
        r->allow = s_header(req, "Allow");
        r->doc = json_loads(r->body, 0, NULL);
    }
}

/* One request on c; asserts an answer came. */
static s_resp_t s_req(s_client_t *c, enum evhttp_cmd_type cmd, const char *path, const char *type,
                      const char *auth, const char *body, size_t len) {
    s_resp_t               r = { 0 };
    struct evhttp_request *req = evhttp_request_new(s_done_cb, &r);
    struct evkeyvalq      *hdr = evhttp_request_get_output_headers(req);
    evhttp_add_header(hdr, "Host", "127.0.0.1");
    if (type)
        evhttp_add_header(hdr, "Content-Type", type);
    if (auth)
        evhttp_add_header(hdr, "Authorization", auth);
    if (body)
        evbuffer_add(evhttp_request_get_output_buffer(req), body, len);
    assert_int_equal(evhttp_make_request(c->conn, req, cmd, path), 0);
    while (!r.done)
        assert_int_equal(event_base_loop(c->base, EVLOOP_ONCE), 0);
    if (r.code <= 0)
        fail_msg("no answer to %s", path);
    return r;
}

/* A POST to /v1/events on a connection of its own. */
static s_resp_t s_post(tp_dfx_t *d, const char *type, const char *auth, const char *body) {
    s_client_t c = s_client(d->http_port);
    s_resp_t   r = s_req(&c, EVHTTP_REQ_POST, "/v1/events", type, auth, body, strlen(body));
    s_client_free(&c);
    return r;
}

static s_resp_t s_get(tp_dfx_t *d, const char *path) {
    s_client_t c = s_client(d->http_port);
    s_resp_t   r = s_req(&c, EVHTTP_REQ_GET, path, NULL, NULL, NULL, 0);
    s_client_free(&c);
    return r;
}

static void s_resp_free(s_resp_t *r) {
    free(r->body);
    free(r->www_auth);
    free(r->allow);
    json_decref(r->doc);
}

/* Asserts a 200/422 answer's counts; returns its refused list. */
static json_t *s_counts(const s_resp_t *r, int code, json_int_t accepted, json_int_t duplicates,
                        size_t refused) {
    if (r->code != code || !r->doc)
        fail_msg("want %d, got %d: %s", code, r->code, r->body);
    assert_int_equal(json_integer_value(json_object_get(r->doc, "accepted")), accepted);
    assert_int_equal(json_integer_value(json_object_get(r->doc, "duplicates")), duplicates);
    json_t *list = json_object_get(r->doc, "refused");
    assert_true(json_is_array(list));
    assert_int_equal(json_array_size(list), refused);
    return list;
}

/* Item i of a refused list: its index, event_id (NULL: not checked) and
 * error (NULL: not checked); returns the error. */
static const char *s_refused_is(json_t *refused, size_t i, json_int_t index, const char *event_id,
                                const char *error) {
    json_t     *item = json_array_get(refused, i);
    const char *err = json_string_value(json_object_get(item, "error"));
    assert_int_equal(json_integer_value(json_object_get(item, "index")), index);
    if (event_id)
        assert_string_equal(json_string_value(json_object_get(item, "event_id")), event_id);
    if (error)
        assert_string_equal(err, error);
    return err;
}

/* Posts body and asserts the answer's code and counts (s_counts). */
static void s_post_counts(tp_dfx_t *d, const char *type, const char *auth, const char *body,
                          int code, json_int_t accepted, json_int_t duplicates, size_t refused) {
    s_resp_t r = s_post(d, type, auth, body);
    s_counts(&r, code, accepted, duplicates, refused);
    s_resp_free(&r);
}

/* The error message of a 4xx/5xx answer. */
static const char *s_error(const s_resp_t *r, int code) {
    if (r->code != code)
        fail_msg("want %d, got %d: %s", code, r->code, r->body);
    const char *e = json_string_value(json_object_get(r->doc, "error"));
    assert_non_null(e);
    return e;
}

/* A call in the contract's JSON form (what tp-pub reads); complete = with
 * every field call_incomplete asks for, so it raises no alert. */
static json_t *s_call(const char *event_id, const char *call_id, const char *status, int64_t at,
                      bool complete) {
    json_t *call =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "callId", call_id, "hcpId", "HCP-H", "repId",
                  "REP-H", "status", status, "channel", "PHONE", "callAtMs", (json_int_t)at);
    if (complete) {
        json_t *more = json_pack("{s:[s], s:[s], s:s, s:s}", "products", "P-1", "topics", "T-1",
                                 "notes", "n", "nextStep", "x");
        assert_int_equal(json_object_update(call, more), 0);
        json_decref(more);
    }
    return json_pack("{s:s, s:s, s:I, s:o}", "eventId", event_id, "source", "webhook",
                     "occurredAtMs", (json_int_t)at, "call", call);
}

static char *s_text(json_t *j) {
    char *t = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    assert_non_null(t);
    return t;
}

/* Receives alerts until one for call_id under `rule` arrives. */
static void s_expect_alert(tp_dfx_t *d, const char *rule, const char *call_id) {
    for (;;) {
        if (!tp_dfx_recv_alert(d, TP_WAIT_MS))
            fail_msg("no %s alert for %s", rule, call_id);
        const Touchpoint__V1__Alert *a = d->got.alerts[d->got.n - 1];
        if (!strcmp(a->rule, rule) && !strcmp(a->call_id, call_id))
            return;
    }
}

static void s_has_metric(tp_dfx_t *d, const char *line) {
    s_resp_t r = s_get(d, "/metrics");
    assert_int_equal(r.code, 200);
    char want[256];
    snprintf(want, sizeof want, "\n%s\n", line);
    if (!strstr(r.body, want))
        fail_msg("no \"%s\" in /metrics:\n%s", line, r.body);
    s_resp_free(&r);
}

/* One event: 200 once stored, its alert on the bus; then the same again
 * (a duplicate), and every way a request can be wrong. */
static void test_single_event(void **state) {
    tp_dfx_t *d = *state = tp_dfx_start_http_with(INGEST_ON);
    char     *ev = s_text(s_call("h1", "H-1", "SUBMITTED", T0, false));
    s_resp_t  r;
    s_post_counts(d, "application/json", NULL, ev, 200, 1, 0, 0);
    s_expect_alert(d, "call_incomplete", "H-1");

    r = s_post(d, "application/json; charset=utf-8", NULL, ev);
    s_counts(&r, 200, 0, 1, 0);
    s_resp_free(&r);

    r = s_post(d, "text/plain", NULL, ev);
    assert_string_equal(s_error(&r, 415), "Content-Type must be application/json or "
                                          "application/x-ndjson, not \"text/plain\"");
    s_resp_free(&r);
    r = s_post(d, NULL, NULL, ev);
    s_error(&r, 415);
    s_resp_free(&r);

    r = s_post(d, "application/json", NULL, "{\"eventId\": \"x\",\n  oops: 1}");
    assert_string_equal(s_error(&r, 400), "not JSON: line 2, column 6: string or '}' expected "
                                          "near 'oops'");
    s_resp_free(&r);
    r = s_post(d, "application/json", NULL, "");
    assert_non_null(strstr(s_error(&r, 400), "not JSON: line 1, column 0:"));
    s_resp_free(&r);

    r = s_get(d, "/v1/events");
    assert_string_equal(s_error(&r, 405), "/v1/events takes POST only");
    assert_string_equal(r.allow, "POST");
    s_resp_free(&r);

    s_has_metric(d, "touchpointd_http_ingest_requests_total{code=\"200\"} 2");
    s_has_metric(d, "touchpointd_http_ingest_requests_total{code=\"415\"} 2");
    s_has_metric(d, "touchpointd_http_ingest_requests_total{code=\"400\"} 2");
    s_has_metric(d, "touchpointd_http_ingest_requests_total{code=\"405\"} 1");
    s_has_metric(d, "touchpointd_http_ingest_events_total{result=\"accepted\"} 1");
    s_has_metric(d, "touchpointd_http_ingest_events_total{result=\"duplicate\"} 1");
    s_has_metric(d, "touchpointd_http_ingest_events_total{result=\"refused\"} 0");
    /* The engine counted it like any bus event. */
    s_has_metric(d, "touchpointd_events_received_total{topic=\"crm.call\",source=\"webhook\"} 1");
    s_has_metric(d, "touchpointd_duplicates_total 1");
    free(ev);
    tp_dfx_stop_expect(d, "/healthz /metrics /status /v1/events");
}

/* A batch with a bad item: 422 names it; the others are processed. */
static void test_batch_partial(void **state) {
    tp_dfx_t *d = *state = tp_dfx_start_http_with(INGEST_ON);
    json_t   *bad = json_pack("{s:s, s:s, s:{s:s, s:s}}", "eventId", "b2", "source", "webhook",
                              "call", "callId", "B-2", "status", "SUBMITED");
    char    *batch = s_text(json_pack("[o, o, o]", s_call("b1", "B-1", "SUBMITTED", T0, false), bad,
                                      s_call("b3", "B-3", "SUBMITTED", T0, false)));
    s_resp_t r = s_post(d, "application/json", NULL, batch);
    json_t  *refused = s_counts(&r, 422, 2, 0, 1);
    s_refused_is(refused, 0, 1, "b2", "call.status: unknown enum value \"SUBMITED\"");
    s_resp_free(&r);
    s_expect_alert(d, "call_incomplete", "B-1");
    s_expect_alert(d, "call_incomplete", "B-3");

    /* Refused by the engine's validation (as a NACK would be), and a
     * duplicate within one batch. */
    json_t *no_id = s_call("", "B-4", "SUBMITTED", T0, false);
    char   *two = s_text(json_pack("[o, o, o]", no_id, s_call("b5", "B-5", "SUBMITTED", T0, true),
                                   s_call("b5", "B-5", "SUBMITTED", T0, true)));
    r = s_post(d, "application/json", NULL, two);
    refused = s_counts(&r, 422, 1, 1, 1);
    assert_non_null(strstr(s_refused_is(refused, 0, 0, "", NULL), "event_id"));
    s_resp_free(&r);

    /* NDJSON: blank lines skipped, a line that is not JSON is an item refused. */
    char *l1 = s_text(s_call("n1", "N-1", "SUBMITTED", T0, false));
    char *nd = NULL;
    assert_true(asprintf(&nd, "%s\n\n[nope\n{\"eventId\": \"n3\"}\n", l1) > 0);
    r = s_post(d, "application/x-ndjson", NULL, nd);
    refused = s_counts(&r, 422, 1, 0, 2);
    s_refused_is(refused, 0, 1, NULL, "not JSON: line 3, column 5: invalid token near 'nope'");
    s_refused_is(refused, 1, 2, "n3",
                 "no payload: one of call, contracting, feedback, watermark is required");
    s_resp_free(&r);
    s_expect_alert(d, "call_incomplete", "N-1");

    s_has_metric(d, "touchpointd_http_ingest_requests_total{code=\"422\"} 3");
    s_has_metric(d, "touchpointd_http_ingest_events_total{result=\"accepted\"} 4");
    s_has_metric(d, "touchpointd_http_ingest_events_total{result=\"refused\"} 4");
    s_has_metric(d, "touchpointd_events_refused_total{reason=\"invalid\"} 1");
    free(batch);
    free(two);
    free(l1);
    free(nd);
}

/* Bodies over max_body_bytes get evhttp's 413, batches over 10,000 items
 * ours; the endpoint answers normally afterwards. */
static void test_limits(void **state) {
    tp_dfx_t *d = *state =
        tp_dfx_start_http_with("ingest: { enabled: true, max_body_bytes: 65536 }");
    size_t big = 70000;
    char  *body = malloc(big + 1);
    memset(body, ' ', big);
    body[0] = '[';
    body[big - 1] = ']';
    body[big] = '\0';
    s_resp_t r = s_post(d, "application/json", NULL, body);
    assert_int_equal(r.code, 413);
    s_resp_free(&r);
    free(body);

    size_t n = 10001;
    body = malloc(3 * n + 1);
    for (size_t i = 0; i < n; i++)
        memcpy(body + 3 * i, "{}\n", 3);
    body[3 * n] = '\0';
    r = s_post(d, "application/x-ndjson", NULL, body);
    assert_string_equal(s_error(&r, 413), "a batch holds at most 10000 events; this one has "
                                          "10001 lines (nothing was processed)");
    s_resp_free(&r);
    free(body);

    char *ev = s_text(s_call("l1", "L-1", "SUBMITTED", T0, false));
    s_post_counts(d, "application/json", NULL, ev, 200, 1, 0, 0);
    free(ev);
    s_has_metric(d, "touchpointd_http_ingest_events_total{result=\"accepted\"} 1");
}

static void s_write_token(const char *path, const char *text, mode_t mode) {
    assert_int_equal(tp_write_file(path, text), 0);
    assert_int_equal(chmod(path, mode), 0);
}

/* A token file others can read stops the start and refuses a reload; the
 * token is re-read on reload; ingest switched off answers 404. */
static void test_bearer_token(void **state) {
    tp_dfx_t *d = *state = tp_dfx_setup(false);
    char     *token = tp_path(d->dir, "ingest.token"), yaml[600];
    snprintf(yaml, sizeof yaml, "ingest: { enabled: true, bearer_token_file: \"%s\" }", token);
    d->http = true;
    d->http_yaml = yaml;

    s_write_token(token, "# for the CRM webhook\ns3cret-Token_1\n", 0644);
    tp_dfx_write_config(d, d->cfg, "event", NULL);
    tp_dfx_expect_refusal(d, "is readable or writable by others; chmod o-rwx it");

    assert_int_equal(chmod(token, 0600), 0);
    tp_dfx_spawn(d, "event", NULL);
    char    *e1 = s_text(s_call("t1", "T-1", "SUBMITTED", T0, true));
    s_resp_t r = s_post(d, "application/json", NULL, e1);
    assert_string_equal(s_error(&r, 401), "a bearer token is required: Authorization: Bearer "
                                          "<token>");
    assert_string_equal(r.www_auth, "Bearer realm=\"touchpointd\"");
    s_resp_free(&r);
    static const char *const wrong[] = { "Bearer nope", "Bearer s3cret-Token_",
                                         "Bearer s3cret-Token_12", "Basic czNjcmV0", "Bearer " };
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
        r = s_post(d, "application/json", wrong[i], e1);
        s_error(&r, 401);
        s_resp_free(&r);
    }
    s_post_counts(d, "application/json", "Bearer s3cret-Token_1", e1, 200, 1, 0, 0);

    /* Readable by others: the reload is refused, the old token still works. */
    assert_int_equal(chmod(token, 0604), 0);
    assert_false(tp_dfx_reload(d, "event", NULL));
    s_post_counts(d, "application/json", "bearer s3cret-Token_1", e1, 200, 0, 1, 0);

    /* A new token: the old one is refused from the reload on. */
    s_write_token(token, "t0ken-2\n", 0640);
    assert_true(tp_dfx_reload(d, "event", NULL));
    r = s_post(d, "application/json", "Bearer s3cret-Token_1", e1);
    s_error(&r, 401);
    s_resp_free(&r);
    s_post_counts(d, "application/json", "Bearer t0ken-2", e1, 200, 0, 1, 0);

    d->http_yaml = "ingest: { enabled: false }";
    assert_true(tp_dfx_reload(d, "event", NULL));
    r = s_post(d, "application/json", "Bearer t0ken-2", e1);
    assert_int_equal(r.code, 404);
    s_resp_free(&r);
    s_has_metric(d, "touchpointd_http_ingest_requests_total{code=\"401\"} 7");
    char *log = tp_dfx_stop(d);
    assert_non_null(strstr(log, "Reload of"));
    assert_non_null(strstr(log, "is readable or writable by others"));
    free(log);
    free(e1);
    free(token);
}

/* A 200 is a promise: the event is in the journal's event log, so after
 * SIGKILL the restart rebuilds its state and its deadline still fires. */
static void test_survives_sigkill(void **state) {
    tp_dfx_t *d = *state = tp_dfx_start_http_with(INGEST_ON);
    char     *planned = s_text(s_call("k1", "K-1", "PLANNED", T0, false));
    s_post_counts(d, "application/json", NULL, planned, 200, 1, 0, 0);
    assert_int_equal(tp_proc_signal(&d->proc, SIGKILL), 0);
    assert_int_equal(tp_proc_wait(&d->proc, TP_WAIT_MS), 128 + SIGKILL);
    tp_dfx_restart(d, NULL);

    /* Rebuilt: the same event again is a duplicate... */
    s_post_counts(d, "application/json", NULL, planned, 200, 0, 1, 0);
    /* ...and a watermark past call_at + 48h fires its deadline. */
    char *wm = s_text(json_pack("{s:s, s:s, s:I, s:{s:I}}", "eventId", "wm1", "source", "webhook",
                                "occurredAtMs", (json_int_t)(T0 + 49 * H), "watermark", "nowMs",
                                (json_int_t)(T0 + 49 * H)));
    s_post_counts(d, "application/json", NULL, wm, 200, 1, 0, 0);
    s_expect_alert(d, "call_unsubmitted", "K-1");
    free(planned);
    free(wm);
}

/* TP_BENCH=1: events/s, HTTP in batches of 1 and 500 against the ZeroMQ
 * reliable input (windows of 500 ACKs), complete calls (no alerts). */
static double s_bench_http(tp_dfx_t *d, size_t n, size_t batch, size_t *next_id) {
    /* Bodies first, so only the requests are timed. */
    size_t nreq = n / batch;
    char **bodies = calloc(nreq, sizeof *bodies);
    for (size_t k = 0; k < nreq; k++) {
        json_t *arr = json_array();
        for (size_t i = 0; i < batch; i++) {
            char id[32];
            snprintf(id, sizeof id, "bh-%zu", (*next_id)++);
            json_array_append_new(arr, s_call(id, id, "SUBMITTED", T0, true));
        }
        bodies[k] = s_text(batch == 1 ? json_incref(json_array_get(arr, 0)) : json_incref(arr));
        json_decref(arr);
    }
    s_client_t c = s_client(d->http_port);
    long long  t0 = tp_now_ms();
    for (size_t k = 0; k < nreq; k++) {
        s_resp_t r = s_req(&c, EVHTTP_REQ_POST, "/v1/events", "application/json", NULL, bodies[k],
                           strlen(bodies[k]));
        assert_int_equal(r.code, 200);
        s_resp_free(&r);
    }
    long long ms = tp_now_ms() - t0;
    s_client_free(&c);
    for (size_t k = 0; k < nreq; k++)
        free(bodies[k]);
    free(bodies);
    return (double)n * 1000.0 / (double)(ms ? ms : 1);
}

static double s_bench_zmq(tp_dfx_t *d, size_t n, size_t window, size_t *next_id) {
    void *dealer = zmq_socket(d->zctx, ZMQ_DEALER);
    int   zero = 0;
    zmq_setsockopt(dealer, ZMQ_LINGER, &zero, sizeof zero);
    assert_int_equal(zmq_connect(dealer, d->reliable_ep), 0);
    long long t0 = tp_now_ms();
    for (size_t done = 0; done < n; done += window) {
        for (size_t i = 0; i < window; i++) {
            char id[32];
            snprintf(id, sizeof id, "bz-%zu", (*next_id)++);
            tp_test_call_t call = { .event_id = id,
                                    .at_ms = T0,
                                    .call_id = id,
                                    .status = TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_SUBMITTED,
                                    .fields = TP_FIELD_PRODUCTS | TP_FIELD_TOPICS | TP_FIELD_NOTES |
                                              TP_FIELD_NEXT_STEP };
            uint8_t       *buf;
            size_t         len = tp_test_pack_call(&call, &buf);
            zmq_send(dealer, "crm.call", 8, ZMQ_SNDMORE);
            zmq_send(dealer, buf, len, 0);
            free(buf);
        }
        for (size_t acks = 0; acks < window;) {
            zmq_msg_t m;
            zmq_msg_init(&m);
            zmq_pollitem_t it = { .socket = dealer, .events = ZMQ_POLLIN };
            assert_int_equal(zmq_poll(&it, 1, TP_WAIT_MS), 1);
            assert_true(zmq_msg_recv(&m, dealer, 0) >= 0);
            acks += zmq_msg_size(&m) == 3 && !memcmp(zmq_msg_data(&m), "ACK", 3);
            zmq_msg_close(&m);
        }
    }
    long long ms = tp_now_ms() - t0;
    zmq_close(dealer);
    return (double)n * 1000.0 / (double)(ms ? ms : 1);
}

static void test_bench(void **state) {
    (void)state;
    if (!getenv("TP_BENCH"))
        skip();
    tp_dfx_t *d = tp_dfx_start_http_with("ingest: { enabled: true, max_body_bytes: 16777216 }");
    size_t    id = 0;
    double    h1 = s_bench_http(d, 5000, 1, &id), h500 = s_bench_http(d, 50000, 500, &id);
    double    z = s_bench_zmq(d, 50000, 500, &id);
    printf("ingest events/s: HTTP batch 1 %.0f, HTTP batch 500 %.0f, ZeroMQ reliable "
           "(500 in flight) %.0f\n",
           h1, h500, z);
    tp_dfx_free(d);
}

int main(void) {
    /* The daemon may close a connection while we still write a body it
     * refuses (413): that must be an EPIPE for the client, not our death. */
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_single_event, tp_dfx_teardown),
        cmocka_unit_test_teardown(test_batch_partial, tp_dfx_teardown),
        cmocka_unit_test_teardown(test_limits, tp_dfx_teardown),
        cmocka_unit_test_teardown(test_bearer_token, tp_dfx_teardown),
        cmocka_unit_test_teardown(test_survives_sigkill, tp_dfx_teardown),
        cmocka_unit_test(test_bench),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
