/* tp_testhttp — one HTTP request to a daemon on loopback, with libevent's
 * client, for tests that read /healthz, /metrics, /status and the like. */
#pragma once

#include <event2/http.h>

typedef struct {
    int   code;                  /* HTTP status */
    char *body;                  /* NUL-terminated */
    char *type;                  /* Content-Type, "" if none */
} tp_test_resp_t;

/* `cmd` `path` on 127.0.0.1:port (Host header set; 10 s timeout); asserts
 * that an answer came. Free the answer with tp_test_resp_free. */
tp_test_resp_t tp_test_http_request(unsigned port, enum evhttp_cmd_type cmd, const char *path);

void tp_test_resp_free(tp_test_resp_t *r);

/* GET /metrics: the value of the unlabelled series `name`
 * ("touchpointd_..."), -1 if it is not there. */
double tp_test_metric(unsigned port, const char *name);
