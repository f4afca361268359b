/* tp_testhttp — HTTP requests to a daemon on loopback: one with libevent's
 * client (tests that read /healthz, /metrics, /status and the like), and
 * raw sockets for what a client library hides (SSE streams, clients that
 * never read, slow ones, exact bytes on the wire). */
#pragma once

#include <event2/http.h>
#include <jansson.h>

typedef struct {
    int   code; /* HTTP status */
    char *body; /* NUL-terminated */
    char *type; /* Content-Type, "" if none */
} tp_test_resp_t;

/* `cmd` `path` on 127.0.0.1:port (Host header set; 10 s timeout); asserts
 * that an answer came. Free the answer with tp_test_resp_free. */
tp_test_resp_t tp_test_http_request(unsigned port, enum evhttp_cmd_type cmd, const char *path);

void tp_test_resp_free(tp_test_resp_t *r);

/* ---- a tiny HTTP/1.1 client on a raw socket: streams, slow and
 * never-reading clients need one ---------------------------------------- */

#include <stdbool.h>
#include <stddef.h>

/* A connected TCP socket to 127.0.0.1:port; rcvbuf > 0 sets SO_RCVBUF
 * (before connect, so the window is small from the start). Asserts. */
int tp_test_connect(unsigned port, int rcvbuf);

/* Writes "<method> <path> HTTP/1.1", Host, `headers` (CRLF-terminated
 * lines, may be NULL) and the blank line. Asserts it was written whole. */
void tp_test_send_request(int fd, const char *method, const char *path, const char *headers);

typedef struct {
    char  *buf; /* NUL-terminated; free() it */
    size_t len, cap;
} tp_test_text_t;

/* Reads until `needle` is in what was read (after `from`), the peer
 * closes, or timeout_ms; true if found. A needle that never comes reads
 * to the close (or the timeout). */
bool tp_test_read_until(int fd, tp_test_text_t *t, size_t from, const char *needle, int timeout_ms);

/* One request with Connection: close, the whole answer (headers and body)
 * in *ret_text if not NULL (free it); returns the status. */
int tp_test_get(unsigned port, const char *method, const char *path, const char *headers,
                char **ret_text);

/* GET `path` answers `status` and its text (headers and body) holds
 * `needle`; asserts both, naming what differs. */
void tp_test_get_expect(unsigned port, const char *path, int status, const char *needle);

/* The same with a body (Content-Length set; NULL = none). */
int tp_test_request(unsigned port, const char *method, const char *path, const char *headers,
                    const char *body, char **ret_text);

/* The value of the unlabelled sample `name` in /metrics; -1 if absent. */
double tp_test_metric(unsigned port, const char *name);

/* The object of JSON `array` whose string member `key` is `name`; fails
 * the test if there is none. */
json_t *tp_test_json_named(json_t *array, const char *key, const char *name);

/* Reads /proc/<pid>/status's VmRSS, in KiB; -1 if unreadable. */
long tp_test_rss_kib(int pid);
