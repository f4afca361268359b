/* tp_sink_webhook — see tp_sink_webhook.h. */
#include "tp_sink_webhook.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#define TP_WEBHOOK_STOP_POLL_MS 100 /* how late a stop request is noticed */
#define TP_WEBHOOK_MAX_HEADERS  32

struct sink_webhook {
    tp_sink_t                 base;
    struct event_base        *evb;       /* private: runs only inside deliver */
    struct evhttp_connection *conn;      /* keep-alive, NULL until first use or after a stop */
    struct event             *deadline;  /* one-shot: the POST took timeout_ms */
    struct event             *stop_poll; /* persistent: checks *stop */
    char                     *host, *target, *host_header;
    int                       port;
    char                     *names[TP_WEBHOOK_MAX_HEADERS], *values[TP_WEBHOOK_MAX_HEADERS];
    size_t                    n_headers;
    uint64_t                  timeout_ms;
    volatile sig_atomic_t    *stop;
    /* the POST in flight */
    bool                      done, timed_out, stopped;
    int                       code;  /* HTTP status, 0 = no answer */
    enum evhttp_request_error error; /* why there was no answer */
    bool                      has_error;
    char                      answer[128]; /* start of a refusal's body, for the log */
};

static void s_request_cb(struct evhttp_request *req, void *arg) {
    struct sink_webhook *s = arg;
    s->done = true;
    s->code = req ? evhttp_request_get_response_code(req) : 0;
    if (req && s->code >= 400 && s->code < 500) {
        struct evbuffer *in = evhttp_request_get_input_buffer(req);
        ev_ssize_t       n = evbuffer_copyout(in, s->answer, sizeof s->answer - 1);
        s->answer[n > 0 ? n : 0] = '\0';
        for (char *c = s->answer; *c; c++) /* one log line */
            if (*c == '\n' || *c == '\r')
                *c = ' ';
    }
    event_base_loopbreak(s->evb);
}

static void s_error_cb(enum evhttp_request_error e, void *arg) {
    struct sink_webhook *s = arg;
    s->error = e;
    s->has_error = true;
}

static void s_deadline_cb(evutil_socket_t fd, short what, void *arg) {
    struct sink_webhook *s = arg;
    (void)fd, (void)what;
    s->timed_out = true;
    event_base_loopbreak(s->evb);
}

static void s_stop_poll_cb(evutil_socket_t fd, short what, void *arg) {
    struct sink_webhook *s = arg;
    (void)fd, (void)what;
    if (s->stop && *s->stop) {
        s->stopped = true;
        event_base_loopbreak(s->evb);
    }
}

static const char *s_error_name(enum evhttp_request_error e) {
    switch (e) {
    case EVREQ_HTTP_TIMEOUT: return "timeout";
    case EVREQ_HTTP_EOF: return "connection closed";
    case EVREQ_HTTP_INVALID_HEADER: return "invalid answer";
    case EVREQ_HTTP_BUFFER_ERROR: return "connection failed";
    case EVREQ_HTTP_REQUEST_CANCEL: return "cancelled";
    case EVREQ_HTTP_DATA_TOO_LONG: return "answer too long";
    }
    return "connection failed";
}

static int s_deliver(tp_sink_t *base, const char *body, size_t len, char *why, size_t whylen) {
    struct sink_webhook *s = (struct sink_webhook *)base;
    if (!s->conn) {
        s->conn = evhttp_connection_base_new(s->evb, NULL, s->host, (unsigned short)s->port);
        if (!s->conn) {
            snprintf(why, whylen, "cannot create a connection to %s", s->host_header);
            return -EAGAIN;
        }
        struct timeval tv = { (time_t)(s->timeout_ms / 1000),
                              (suseconds_t)(s->timeout_ms % 1000) * 1000 };
        evhttp_connection_set_timeout_tv(s->conn, &tv);
    }
    struct evhttp_request *req = evhttp_request_new(s_request_cb, s);
    if (!req) {
        snprintf(why, whylen, "out of memory");
        return -EAGAIN;
    }
    evhttp_request_set_error_cb(req, s_error_cb);
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    for (size_t i = 0; i < s->n_headers; i++)
        evhttp_add_header(h, s->names[i], s->values[i]);
    if (!evhttp_find_header(h, "Host"))
        evhttp_add_header(h, "Host", s->host_header);
    if (!evhttp_find_header(h, "Content-Type"))
        evhttp_add_header(h, "Content-Type", "application/json");
    evbuffer_add(evhttp_request_get_output_buffer(req), body, len);

    s->done = s->timed_out = s->stopped = s->has_error = false;
    s->code = 0;
    s->answer[0] = '\0';
    /* evhttp_make_request frees req itself when it fails */
    if (evhttp_make_request(s->conn, req, EVHTTP_REQ_POST, s->target) < 0) {
        snprintf(why, whylen, "cannot send to %s", s->host_header);
        return -EAGAIN;
    }
    struct timeval tv = { (time_t)(s->timeout_ms / 1000),
                          (suseconds_t)(s->timeout_ms % 1000) * 1000 };
    struct timeval poll = { 0, TP_WEBHOOK_STOP_POLL_MS * 1000 };
    evtimer_add(s->deadline, &tv);
    evtimer_add(s->stop_poll, &poll);
    while (!s->done && !s->timed_out && !s->stopped)
        if (event_base_loop(s->evb, EVLOOP_ONCE) < 0)
            break;
    evtimer_del(s->deadline);
    evtimer_del(s->stop_poll);
    if (!s->done) {
        /* abandoned: cancel it and start over on a fresh connection */
        evhttp_cancel_request(req);
        evhttp_connection_free(s->conn);
        s->conn = NULL;
        snprintf(why, whylen, "POST to %s%s: %s", s->host_header, s->target,
                 s->stopped ? "interrupted" : "timeout");
        return s->stopped ? -EINTR : -EAGAIN;
    }
    int c = s->code;
    if (c >= 200 && c < 300)
        return 0;
    if (c == 0) {
        snprintf(why, whylen, "POST to %s%s: %s", s->host_header, s->target,
                 s->has_error ? s_error_name(s->error) : "no answer");
        return -EAGAIN;
    }
    snprintf(why, whylen, "POST to %s%s: HTTP %d%s%s", s->host_header, s->target, c,
             s->answer[0] ? ": " : "", s->answer);
    if (c >= 400 && c < 500 && c != 408 && c != 429)
        return -EBADMSG;
    return -EAGAIN;
}

static void s_destroy(tp_sink_t *base) {
    struct sink_webhook *s = (struct sink_webhook *)base;
    if (!s)
        return;
    if (s->conn)
        evhttp_connection_free(s->conn);
    if (s->deadline)
        event_free(s->deadline);
    if (s->stop_poll)
        event_free(s->stop_poll);
    if (s->evb)
        event_base_free(s->evb);
    for (size_t i = 0; i < s->n_headers; i++) {
        free(s->names[i]);
        free(s->values[i]);
    }
    free(s->host);
    free(s->target);
    free(s->host_header);
    free(s);
}

static const struct tp_sink_ops s_ops = {
    .name = "webhook",
    .deliver = s_deliver,
    .reopen = NULL,
    .destroy = s_destroy,
};

/* "Name: value": a token name, no CR/LF anywhere (no header injection). */
static int s_add_header(struct sink_webhook *s, const char *line, char *why, size_t whylen) {
    const char *colon = strchr(line, ':');
    size_t      name_len = colon ? (size_t)(colon - line) : 0;
    if (s->n_headers == TP_WEBHOOK_MAX_HEADERS) {
        snprintf(why, whylen, "at most %d --webhook-header options", TP_WEBHOOK_MAX_HEADERS);
        return -EINVAL;
    }
    if (name_len == 0 || strpbrk(line, "\r\n") ||
        strspn(line,
               "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") !=
            name_len) {
        snprintf(why, whylen, "invalid --webhook-header '%.64s' (expected 'Name: value')", line);
        return -EINVAL;
    }
    const char *value = colon + 1;
    value += strspn(value, " \t");
    if (!(s->names[s->n_headers] = strndup(line, name_len)))
        return -ENOMEM;
    if (!(s->values[s->n_headers] = strdup(value))) {
        free(s->names[s->n_headers]);
        return -ENOMEM;
    }
    s->n_headers++;
    return 0;
}

static int s_parse_url(struct sink_webhook *s, const char *url, char *why, size_t whylen) {
    struct evhttp_uri *u = evhttp_uri_parse(url);
    int                r = -EINVAL;
    const char        *scheme = u ? evhttp_uri_get_scheme(u) : NULL;
    const char        *host = u ? evhttp_uri_get_host(u) : NULL;
    if (!u || !scheme || !host || !*host) {
        snprintf(why, whylen, "invalid --webhook URL '%.128s' (expected http://host:port/path)",
                 url);
        goto out;
    }
    if (strcasecmp(scheme, "http") != 0) {
        snprintf(why, whylen,
                 "--webhook URL '%.128s': only http:// is supported; for https "
                 "put a TLS-terminating proxy in front of the receiver",
                 url);
        goto out;
    }
    const char *path = evhttp_uri_get_path(u), *query = evhttp_uri_get_query(u);
    s->port = evhttp_uri_get_port(u) < 0 ? 80 : evhttp_uri_get_port(u);
    r = -ENOMEM;
    if (!(s->host = strdup(host)))
        goto out;
    if (asprintf(&s->target, "%s%s%s", path && *path ? path : "/", query ? "?" : "",
                 query ? query : "") < 0) {
        s->target = NULL; /* asprintf leaves it undefined */
        goto out;
    }
    if (asprintf(&s->host_header, "%s:%d", host, s->port) < 0) {
        s->host_header = NULL;
        goto out;
    }
    r = 0;
out:
    if (u)
        evhttp_uri_free(u);
    return r;
}

int tp_sink_webhook_new(const struct tp_sink_webhook_config *cfg, char *why, size_t whylen,
                        tp_sink_t **ret) {
    struct sink_webhook *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->base.ops = &s_ops;
    s->timeout_ms = cfg->timeout_ms;
    s->stop = cfg->stop;
    int r = s_parse_url(s, cfg->url, why, whylen);
    for (size_t i = 0; r == 0 && i < cfg->n_headers; i++)
        r = s_add_header(s, cfg->headers[i], why, whylen);
    if (r == 0 &&
        (!(s->evb = event_base_new()) || !(s->deadline = evtimer_new(s->evb, s_deadline_cb, s)) ||
         !(s->stop_poll = event_new(s->evb, -1, EV_PERSIST, s_stop_poll_cb, s))))
        r = -ENOMEM;
    if (r < 0) {
        if (r == -ENOMEM)
            snprintf(why, whylen, "out of memory");
        s_destroy(&s->base);
        return r;
    }
    *ret = &s->base;
    return 0;
}
