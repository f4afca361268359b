/* tp_sink_webhook — tp-tail's --webhook output: one HTTP(S) POST per
 * message (one alert JSON line, or one digest), body = the message,
 * Content-Type: application/json.
 *
 * The POST runs on tp_http.c (libcurl's multi interface): deliver starts
 * it and answers -EINPROGRESS, tp-tail's loop waits on the sink's fds and
 * calls deliver again for the same message until it has an answer, so a
 * slow receiver never blocks the loop. One message at a time, in order;
 * waiting between retries is tp_sink_queue.c's job. The connection is kept
 * alive between POSTs; https:// is verified (--ca-file or the system's CAs).
 *
 * Answers: 2xx delivered; 408, 429, 5xx, other non-2xx non-4xx answers,
 * refused connections, TLS failures and timeouts are "try again later"
 * (-EAGAIN); any other 4xx is a refusal of this message for good
 * (-EBADMSG).
 */
#pragma once

#include <stdint.h>

#include "tp_http.h"
#include "tp_sink.h"

struct tp_sink_webhook_config {
    const char           *url;  /* http[s]://host[:port][/path][?query] */
    struct tp_http_config http; /* CA, credentials, headers, timeout (copied) */
};

/* A webhook sink for cfg (strings copied). 0; -EINVAL with a reason in
 * `why` for a URL that is not http[s]://host... or a header that is not
 * "Name: value" on one line; -ENOMEM; -EIO when libcurl cannot start. */
int tp_sink_webhook_new(const struct tp_sink_webhook_config *cfg, char *why, size_t whylen,
                        tp_sink_t **ret);

/* "Name: value": a token name, no CR/LF anywhere (no header injection).
 * 0 or -EINVAL with a reason in `why`. */
int tp_sink_webhook_check_header(const char *line, char *why, size_t whylen);
