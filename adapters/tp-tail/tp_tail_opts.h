/* tp_tail_opts — tp-tail's command line: the help text and the options,
 * checked together (which need which, CURVE, ranges) before anything runs.
 * Called by main() in tp_tail.c; the options are then read by every part
 * of tp-tail (the SUB in tp_tail_sub.c, the sinks, --durable).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tp_curve_key.h"
#include "tp_digest.h"

#define TP_TAIL_DEFAULT_ENDPOINT "tcp://127.0.0.1:7602"
#define TP_TAIL_DEFAULT_REPLAY   "tcp://127.0.0.1:7604"
#define TP_TAIL_MAX_TOPICS       64
#define TP_TAIL_MAX_HEADERS      32
#define TP_TAIL_QUEUE_MAX        1000 /* undelivered messages before reading stops */
#define TP_TAIL_MAX_AM           8    /* --alertmanager URLs */

enum { TP_TAIL_EXIT_FAILED = 1, TP_TAIL_EXIT_USAGE = 2 };

struct tp_tail_opts {
    const char       *endpoint;                     /* alert endpoint */
    bool              bind;                         /* bind instead of connect */
    const char       *topics[TP_TAIL_MAX_TOPICS];   /* subscription prefixes */
    size_t            n_topics;                     /* 0 = everything */
    uint64_t          count;                        /* exit after N alerts, 0 = never */
    uint64_t          timeout_ms;                   /* exit after N idle ms, 0 = never */
    const char       *durable;                      /* position file, NULL = fire-and-forget */
    const char       *replay_endpoint;              /* replay ROUTER (with --durable) */
    uint64_t          replay_timeout_ms;            /* replay silence before going live-only */
    tp_curve_client_t curve;                        /* --curve-*: CURVE client, or plain */
    const char       *output;                       /* --output FILE, NULL = stdout */
    bool              fsync;                        /* --fsync: sync FILE per line */
    const char       *webhook;                      /* --webhook URL */
    const char       *headers[TP_TAIL_MAX_HEADERS]; /* --webhook-header */
    size_t            n_headers;
    uint64_t          webhook_timeout_ms;           /* one POST, all included */
    uint64_t          webhook_retries;              /* 0 = forever */
    const char       *alertmanager[TP_TAIL_MAX_AM]; /* --alertmanager base URLs */
    size_t            n_alertmanager;
    uint64_t          alertmanager_resend_ms; /* re-post open alerts this often */
    uint64_t          alertmanager_batch;     /* alerts per POST */
    const char       *ca_file;                /* --ca-file, NULL = system CAs */
    const char       *bearer_token_file;      /* --bearer-token-file */
    const char       *basic_auth_file;        /* --basic-auth-file (user:password) */
    bool              digest;                 /* --digest given */
    tp_digest_by_t    digest_by;
    uint64_t          digest_window_ms;
};

/* Parses the command line into *ret. 0 to run, 1 when --help/--version
 * was handled, -EINVAL on a usage error (reported on stderr). */
int tp_tail_parse_args(int argc, char **argv, struct tp_tail_opts *ret);
