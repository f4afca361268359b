/* tp_http — the HTTP(S) client behind tp-tail's --webhook and --alertmanager
 * sinks: libcurl's multi interface, so a POST never blocks tp-tail's loop.
 *
 * One tp_http_t holds the options every request shares (CA bundle, bearer
 * token or basic auth, extra headers, timeout) and a curl multi handle; each
 * destination is one tp_http_req_t (a reused easy handle: the connection
 * is kept alive between POSTs), with at most one POST in flight. The caller
 * starts a POST, waits on the fds of tp_http_pollfds (tp-tail's zmq_poll
 * does), calls tp_http_perform, then reads tp_http_result.
 *
 * https:// verifies the receiver's certificate and host name, against
 * --ca-file or the system's CA bundle; redirects are not followed. Never
 * logs: results carry a one-line reason. Not thread-safe.
 */
#pragma once

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tp_http     tp_http_t;
typedef struct tp_http_req tp_http_req_t;

struct tp_http_config {
    const char        *ca_file;      /* PEM CA bundle, NULL = the system's */
    const char        *bearer_token; /* "Authorization: Bearer ...", NULL = none */
    const char        *basic_auth;   /* "user:password", NULL = none */
    const char *const *headers;      /* "Name: value" lines, checked by the caller */
    size_t             n_headers;
    uint64_t           timeout_ms; /* one POST, connect to answer; > 0 */
};

/* A client for cfg (strings copied). 0, -ENOMEM, or -EIO when libcurl
 * cannot start. */
int tp_http_new(const struct tp_http_config *cfg, tp_http_t **ret);

/* Frees the client and all its requests (in flight ones are abandoned).
 * Accepts NULL and *p == NULL; sets *p to NULL. */
void tp_http_destroy(tp_http_t **p);

/* Checks that `url` is http:// or https:// with a host. 0, or -EINVAL with
 * a reason in `why`. */
int tp_http_check_url(const char *url, char *why, size_t whylen);

/* A destination for POSTs to `url` (checked, copied), owned by `h`. 0,
 * -EINVAL (reason in `why`), -ENOMEM. */
int tp_http_req_new(tp_http_t *h, const char *url, char *why, size_t whylen, tp_http_req_t **ret);

/* Starts a POST of `body` (copied), Content-Type application/json unless a
 * header says otherwise. 0; -EBUSY while the previous one is in flight;
 * -ENOMEM / -EIO when it cannot start. */
int tp_http_post(tp_http_req_t *r, const char *body, size_t len);

/* True from tp_http_post until tp_http_result returned something else
 * than -EINPROGRESS. */
bool tp_http_busy(const tp_http_req_t *r);

/* The outcome of the last POST, as tp_sink.h's deliver: 0 answered 2xx;
 * -EAGAIN try again later (connection refused, TLS failure, timeout, 5xx,
 * 408, 429, other non-2xx non-4xx); -EBADMSG refused for good (other 4xx);
 * -EINPROGRESS not finished yet. On failure `why` holds a reason. */
int tp_http_result(tp_http_req_t *r, char *why, size_t whylen);

/* Moves every transfer on without blocking. 0 or -EIO. */
int tp_http_perform(tp_http_t *h);

/* Fills up to `max` fds to wait on and returns how many; *ret_next is the
 * latest CLOCK_MONOTONIC ms (from `now`) to call tp_http_perform again even
 * if no fd wakes (UINT64_MAX: nothing in flight). */
size_t tp_http_pollfds(tp_http_t *h, struct pollfd *fds, size_t max, uint64_t now,
                       uint64_t *ret_next);
