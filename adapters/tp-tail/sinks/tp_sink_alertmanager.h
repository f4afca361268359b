/* tp_sink_alertmanager — tp-tail's --alertmanager output: keeps the set
 * of open alerts and posts it to every Prometheus Alertmanager given
 * (an HA pair gets every alert), as DESIGN.md's "Alertmanager" says.
 *
 * deliver takes one alert JSON line into the set (FIRING adds or updates
 * it, RESOLVED marks it ended) and answers at once; the posting is this
 * sink's own background work (ops->pump) on tp_http.c: per Alertmanager,
 * every change not yet posted goes out in batches of up to `batch` alerts
 * per POST to URL/api/v2/alerts, in the order of the changes; a failed POST
 * is retried with back-off (100 ms doubling, capped at the resend period,
 * with jitter), nothing is dropped. Every `resend_ms` the whole open set is
 * posted again, because Alertmanager forgets an alert it has not heard of
 * for its resolve_timeout (and all of them when it restarts). A RESOLVED
 * alert is posted with endsAt once to every Alertmanager, then forgotten.
 *
 * With --durable, tp-tail rebuilds the set from the daemon's replay
 * endpoint from sequence 0 at every start (the journal is the one record
 * of what is open), holding posts until that catch-up is over
 * (tp_sink_alertmanager_caught_up), then posts the whole set: every open
 * alert is back in Alertmanager at once. FILE then says which changes were
 * posted everywhere: a RESOLVED at or below it (`posted_upto`) was, and
 * is not posted again; one above it is. ops->floor keeps FILE below every
 * change not yet posted to every Alertmanager.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "tp_http.h"
#include "tp_sink.h"

struct tp_sink_alertmanager_config {
    const char *const    *urls; /* base URLs, http[s]://host:port[/prefix] */
    size_t                n_urls;
    struct tp_http_config http;        /* CA, credentials, timeout (copied) */
    uint64_t              resend_ms;   /* re-post the open set this often, > 0 */
    size_t                batch;       /* alerts per POST, > 0 */
    uint64_t              posted_upto; /* --durable: FILE's sequence at start, else 0 */
    bool                  hold;        /* post nothing before caught_up */
};

/* The sink (strings copied). 0; -EINVAL with a reason in `why` for a URL
 * that is not http[s]://host...; -ENOMEM; -EIO when libcurl cannot start. */
int tp_sink_alertmanager_new(const struct tp_sink_alertmanager_config *cfg, char *why,
                             size_t whylen, tp_sink_t **ret);

/* The catch-up replay is over (or failed): posting starts. */
void tp_sink_alertmanager_caught_up(tp_sink_t *s);
