/* tp_sink_webhook — see tp_sink_webhook.h. */
#include "tp_sink_webhook.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sink_webhook {
    tp_sink_t      base;
    tp_http_t     *http;
    tp_http_req_t *req;
};

/* Called for the queue's first message until it returns something else
 * than -EINPROGRESS, so the POST in flight is always this message's. */
static int s_deliver(tp_sink_t *base, const char *body, size_t len, char *why, size_t whylen) {
    struct sink_webhook *s = (struct sink_webhook *)base;
    int                  r;
    if (!tp_http_busy(s->req) && (r = tp_http_post(s->req, body, len)) < 0) {
        snprintf(why, whylen, "cannot start a POST: %s", strerror(-r));
        return -EAGAIN;
    }
    if (tp_http_perform(s->http) < 0) {
        snprintf(why, whylen, "libcurl failed");
        return -EAGAIN;
    }
    return tp_http_result(s->req, why, whylen);
}

static size_t s_pollfds(tp_sink_t *base, struct pollfd *fds, size_t max, uint64_t now,
                        uint64_t *ret_next) {
    struct sink_webhook *s = (struct sink_webhook *)base;
    return tp_http_pollfds(s->http, fds, max, now, ret_next);
}

static void s_destroy(tp_sink_t *base) {
    struct sink_webhook *s = (struct sink_webhook *)base;
    if (!s)
        return;
    tp_http_destroy(&s->http);
    free(s);
}

static const struct tp_sink_ops s_ops = {
    .name = "webhook",
    .deliver = s_deliver,
    .reopen = NULL,
    .destroy = s_destroy,
    .pollfds = s_pollfds,
};

int tp_sink_webhook_check_header(const char *line, char *why, size_t whylen) {
    const char *colon = strchr(line, ':');
    size_t      name_len = colon ? (size_t)(colon - line) : 0;
    if (name_len == 0 || strpbrk(line, "\r\n") ||
        strspn(line,
               "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") !=
            name_len) {
        snprintf(why, whylen, "invalid --webhook-header '%.64s' (expected 'Name: value')", line);
        return -EINVAL;
    }
    return 0;
}

int tp_sink_webhook_new(const struct tp_sink_webhook_config *cfg, char *why, size_t whylen,
                        tp_sink_t **ret) {
    int r = tp_http_check_url(cfg->url, why, whylen);
    for (size_t i = 0; r == 0 && i < cfg->http.n_headers; i++)
        r = tp_sink_webhook_check_header(cfg->http.headers[i], why, whylen);
    if (r < 0)
        return r;
    struct sink_webhook *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->base.ops = &s_ops;
    if ((r = tp_http_new(&cfg->http, &s->http)) < 0 ||
        (r = tp_http_req_new(s->http, cfg->url, why, whylen, &s->req)) < 0) {
        if (r == -ENOMEM || r == -EIO)
            snprintf(why, whylen, "%s", r == -EIO ? "libcurl cannot start" : "out of memory");
        s_destroy(&s->base);
        return r;
    }
    *ret = &s->base;
    return 0;
}
