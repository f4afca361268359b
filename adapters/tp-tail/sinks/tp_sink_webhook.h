/* tp_sink_webhook — tp-tail's --webhook output: one HTTP POST per message
 * (one alert JSON line, or one digest), body = the message,
 * Content-Type: application/json.
 *
 * Plain http:// only (libevent's evhttp client, which Debian's libevent
 * ships without TLS glue): for https put a TLS-terminating proxy (nginx,
 * stunnel, envoy) on localhost in front of the receiver. The POST is made
 * synchronously on the sink's own event_base and bounded by `timeout_ms`:
 * tp-tail delivers strictly in order, one message at a time, so there is
 * never a second request to overlap with; the tail loop is free meanwhile
 * only in the sense that ZeroMQ keeps receiving in its I/O thread. Waiting
 * between retries is not done here (tp_sink_queue.c does it without
 * blocking). The keep-alive connection is reused between POSTs.
 *
 * Answers: 2xx delivered; 408, 429, 5xx, other non-2xx non-4xx answers,
 * refused connections and timeouts are "try again later" (-EAGAIN); any
 * other 4xx is a refusal of this message for good (-EBADMSG).
 */
#pragma once

#include <signal.h>
#include <stdint.h>

#include "tp_sink.h"

struct tp_sink_webhook_config {
    const char        *url;     /* http://host[:port][/path][?query] */
    const char *const *headers; /* "Name: value" strings, n_headers of them */
    size_t             n_headers;
    uint64_t           timeout_ms; /* whole POST: connect, send, answer; > 0 */
    /* Checked every 100 ms during a POST: when it becomes non-zero the POST
     * is abandoned and deliver returns -EINTR (tp-tail's SIGINT/SIGTERM). */
    volatile sig_atomic_t *stop;
};

/* A webhook sink for cfg (strings copied). 0; -EINVAL with a reason in
 * `why` for a URL that is not http://host... or a header that is not
 * "Name: value" on one line; -ENOMEM. */
int tp_sink_webhook_new(const struct tp_sink_webhook_config *cfg, char *why, size_t whylen,
                        tp_sink_t **ret);
