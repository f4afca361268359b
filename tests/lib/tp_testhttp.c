/* tp_testhttp — see tp_testhttp.h. */
#include "tp_testhttp.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

typedef struct {
    tp_test_resp_t     r;
    struct event_base *base;
} s_call_t;

static void s_done_cb(struct evhttp_request *req, void *arg) {
    s_call_t *c = arg;
    if (req && (c->r.code = evhttp_request_get_response_code(req)) > 0) {
        struct evbuffer *b = evhttp_request_get_input_buffer(req);
        size_t           len = evbuffer_get_length(b);
        c->r.body = calloc(1, len + 1);
        evbuffer_remove(b, c->r.body, len);
        const char *t = evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type");
        c->r.type = strdup(t ? t : "");
    }
    event_base_loopexit(c->base, NULL);
}

tp_test_resp_t tp_test_http_request(unsigned port, enum evhttp_cmd_type cmd, const char *path) {
    s_call_t                  c = { .base = event_base_new() };
    struct evhttp_connection *conn =
        evhttp_connection_base_new(c.base, NULL, "127.0.0.1", (unsigned short)port);
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

/* ---- raw sockets ---------------------------------------------------------- */

static long long s_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int tp_test_connect(unsigned port, int rcvbuf) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    if (rcvbuf)
        assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf), 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    return fd;
}

void tp_test_send_request(int fd, const char *method, const char *path, const char *headers) {
    char *req = NULL;
    int   n = asprintf(&req, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n", method, path,
                     headers ? headers : "");
    assert_true(n > 0);
    assert_int_equal(write(fd, req, (size_t)n), n);
    free(req);
}

bool tp_test_read_until(int fd, tp_test_text_t *t, size_t from, const char *needle,
                        int timeout_ms) {
    long long end = s_now_ms() + timeout_ms;
    for (;;) {
        if (t->buf && from < t->len && strstr(t->buf + from, needle))
            return true;
        long long     left = end - s_now_ms();
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, left > 0 ? (int)left : 0) <= 0)
            return false;
        if (t->cap - t->len < 65536) {
            t->cap = t->cap * 2 + 65536;
            t->buf = realloc(t->buf, t->cap + 1);
            assert_non_null(t->buf);
        }
        ssize_t n = read(fd, t->buf + t->len, t->cap - t->len);
        if (n <= 0)
            return false;
        t->len += (size_t)n;
        t->buf[t->len] = '\0';
    }
}

int tp_test_request(unsigned port, const char *method, const char *path, const char *headers,
                    const char *body, char **ret_text) {
    int   fd = tp_test_connect(port, 0);
    char *h = NULL, length[64] = "";
    if (body)
        snprintf(length, sizeof length, "Content-Length: %zu\r\n", strlen(body));
    assert_true(asprintf(&h, "Connection: close\r\n%s%s", length, headers ? headers : "") > 0);
    tp_test_send_request(fd, method, path, h);
    free(h);
    if (body) {
        /* The answer may come (and the connection close) before all of it
         * is taken: a refusal does not read it. */
        size_t len = strlen(body);
        for (size_t off = 0; off < len;) {
            ssize_t n = send(fd, body + off, len - off, MSG_NOSIGNAL);
            if (n <= 0)
                break;
            off += (size_t)n;
        }
    }
    tp_test_text_t t = { 0 };
    tp_test_read_until(fd, &t, 0, "\x01never", 20000); /* to the close */
    close(fd);
    if (!t.buf)
        fail_msg("no answer to %s %s on port %u", method, path, port);
    int code = 0;
    if (sscanf(t.buf, "HTTP/1.1 %d", &code) != 1)
        fail_msg("not an HTTP answer to %s: %.200s", path, t.buf);
    if (ret_text)
        *ret_text = t.buf;
    else
        free(t.buf);
    return code;
}

int tp_test_get(unsigned port, const char *method, const char *path, const char *headers,
                char **ret_text) {
    return tp_test_request(port, method, path, headers, NULL, ret_text);
}

void tp_test_get_expect(unsigned port, const char *path, int status, const char *needle) {
    char *text = NULL;
    int   got = tp_test_get(port, "GET", path, NULL, &text);
    if (got != status || !text || !strstr(text, needle))
        fail_msg("GET %s: expected %d with \"%s\", got %d:\n%s", path, status, needle, got,
                 text ? text : "");
    free(text);
}

double tp_test_metric(unsigned port, const char *name) {
    char *text;
    assert_int_equal(tp_test_get(port, "GET", "/metrics", NULL, &text), 200);
    char line[160];
    snprintf(line, sizeof line, "\n%s ", name); /* the sample, not its # HELP */
    char  *p = strstr(text, line);
    double v = p ? strtod(p + strlen(line), NULL) : -1;
    free(text);
    return v;
}

long tp_test_rss_kib(int pid) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "re");
    long  kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6))
            kib = strtol(line + 6, NULL, 10);
    if (f)
        fclose(f);
    return kib;
}

json_t *tp_test_json_named(json_t *array, const char *key, const char *name) {
    size_t  i;
    json_t *v;
    json_array_foreach(array, i, v) {
        const char *got = json_string_value(json_object_get(v, key));
        if (got && !strcmp(got, name))
            return v;
    }
    fail_msg("no %s %s", key, name);
    return NULL;
}
