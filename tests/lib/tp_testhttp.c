/* tp_testhttp — see tp_testhttp.h. */
#include "tp_testhttp.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

typedef struct {
    tp_test_resp_t     r;
    struct event_base *base;
} s_call_t;

static void s_done_cb(struct evhttp_request *req, void *arg) {
    s_call_t *c = arg;
    if (req && (c->r.code = evhttp_request_get_response_code(req)) > 0) {
        struct evbuffer *b = evhttp_request_get_input_buffer(req);
        size_t len = evbuffer_get_length(b);
        c->r.body = calloc(1, len + 1);
        evbuffer_remove(b, c->r.body, len);
        const char *t = evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type");
        c->r.type = strdup(t ? t : "");
    }
    event_base_loopexit(c->base, NULL);
}

tp_test_resp_t tp_test_http_request(unsigned port, enum evhttp_cmd_type cmd, const char *path) {
    s_call_t c = { .base = event_base_new() };
    struct evhttp_connection *conn = evhttp_connection_base_new(c.base, NULL, "127.0.0.1",
                                                                (unsigned short)port);
    evhttp_connection_set_timeout(conn, 10);
    struct evhttp_request *req = evhttp_request_new(s_done_cb, &c);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Host", "127.0.0.1");
    assert_int_equal(evhttp_make_request(conn, req, cmd, path), 0);
    event_base_dispatch(c.base);
    evhttp_connection_free(conn);
    event_base_free(c.base);
    if (c.r.code <= 0)
        fail_msg("no answer to %s on port %u", path, port);
    return c.r;
}

void tp_test_resp_free(tp_test_resp_t *r) {
    free(r->body);
    free(r->type);
    r->body = r->type = NULL;
}

double tp_test_metric(unsigned port, const char *name) {
    tp_test_resp_t r = tp_test_http_request(port, EVHTTP_REQ_GET, "/metrics");
    assert_int_equal(r.code, 200);
    char line[160];
    snprintf(line, sizeof line, "\n%s ", name); /* the sample, not its # HELP */
    const char *p = strstr(r.body, line);
    double      v = p ? strtod(p + strlen(line), NULL) : -1;
    tp_test_resp_free(&r);
    return v;
}
