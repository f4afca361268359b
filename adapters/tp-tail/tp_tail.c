/* tp-tail — follows touchpointd's alert stream and prints it as JSON lines.
 *
 * Subscribes to the alert PUB endpoint, decodes each [topic, Alert] message
 * and writes one compact JSON object per alert to stdout: the Alert in proto3
 * JSON plus a "topic" member. Malformed messages are reported on stderr and
 * skipped; nothing a peer sends can make it crash or stop.
 *
 * With --durable FILE it is a Clone-pattern client (DESIGN.md, "Reliable
 * paths"): this file still owns the SUB, decoding, printing and the poll
 * loop, and hands live alerts and replay messages to tp_tail_durable.c,
 * which keeps them in sequence (replay, hold queue, gaps, retry) and keeps
 * the last delivered sequence in FILE.
 *
 * Where alerts go is a sink (tp_sink.h): stdout, --output FILE or
 * --webhook URL, behind tp_sink_queue.c (order, retries, counters). With
 * --digest, tp_digest.c groups alerts first and the sink gets digests.
 * FILE never passes an alert that is still queued or in an open digest.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zmq.h>

#include "tp_contract.h"
#include "tp_cli.h"
#include "tp_digest.h"
#include "tp_json.h"
#include "tp_sink_file.h"
#include "tp_sink_queue.h"
#include "tp_sink_webhook.h"
#include "tp_tail_durable.h"


#define TP_TAIL_DEFAULT_ENDPOINT "tcp://127.0.0.1:7602"
#define TP_TAIL_DEFAULT_REPLAY   "tcp://127.0.0.1:7604"
#define TP_TAIL_MAX_TOPICS       64
#define TP_TAIL_POLL_SLICE_MS    200      /* bounds how late a signal is noticed */
#define TP_TAIL_MAX_HEADERS      32
#define TP_TAIL_QUEUE_MAX        1000     /* undelivered messages before reading stops */

enum { EXIT_FAILED = 1, EXIT_USAGE = 2 };

struct tail_opts {
    const char *endpoint;                       /* alert endpoint */
    bool        bind;                           /* bind instead of connect */
    const char *topics[TP_TAIL_MAX_TOPICS];     /* subscription prefixes */
    size_t      n_topics;                       /* 0 = everything */
    uint64_t    count;                          /* exit after N alerts, 0 = never */
    uint64_t    timeout_ms;                     /* exit after N idle ms, 0 = never */
    const char *durable;                        /* position file, NULL = fire-and-forget */
    const char *replay_endpoint;                /* replay ROUTER (with --durable) */
    uint64_t    replay_timeout_ms;              /* replay silence before going live-only */
    tp_curve_client_t curve;                    /* --curve-*: CURVE client, or plain */
    const char *output;                         /* --output FILE, NULL = stdout */
    bool        fsync;                          /* --fsync: sync FILE per line */
    const char *webhook;                        /* --webhook URL */
    const char *headers[TP_TAIL_MAX_HEADERS];   /* --webhook-header */
    size_t      n_headers;
    uint64_t    webhook_timeout_ms;             /* one POST, all included */
    uint64_t    webhook_retries;                /* 0 = forever */
    bool        digest;                         /* --digest given */
    tp_digest_by_t digest_by;
    uint64_t    digest_window_ms;
};

struct tail {
    const struct tail_opts *o;
    void              *ctx;
    uint64_t           alerts, malformed;       /* alerts handed to the sink / skipped messages */
    uint64_t           active_ms;               /* last message, replay end or delivery */
    tp_tail_durable_t *durable;                 /* --durable only, else NULL */
    tp_sink_queue_t   *queue;                   /* the sink and what waits for it */
    tp_digest_t       *digest;                  /* --digest only, else NULL */
    int                fatal;                   /* out of memory on the way to the sink */
    uint64_t           lost_seq;                /* lowest alert lost so, UINT64_MAX none */
};

static volatile sig_atomic_t s_stop, s_reopen;

static void s_signal_cb(int sig) {
    (void)sig;
    s_stop = 1;
}

static void s_hup_cb(int sig) {
    (void)sig;
    s_reopen = 1;
}

static const char s_usage[] =
    "Usage: tp-tail [OPTIONS]\n"
    "\n"
    "Follow touchpointd's alerts: subscribe to the alert endpoint and print one\n"
    "JSON line per alert on stdout (the touchpoint.v1.Alert in proto3 JSON plus a\n"
    "\"topic\" member), append them to a file, or POST them to a webhook; one by\n"
    "one or grouped into digests. Malformed messages are reported on stderr and\n"
    "skipped.\n"
    "\n"
    "  -e, --endpoint EP     ZeroMQ endpoint (default " TP_TAIL_DEFAULT_ENDPOINT ",\n"
    "                        touchpointd's default output)\n"
    "      --bind            bind EP instead of connecting to it\n"
    "  -t, --topic PREFIX    only alerts whose topic starts with PREFIX, e.g.\n"
    "                        \"friction.\" (repeatable; default: all)\n"
    "  -c, --count N         exit after N alerts were delivered (default 0: never)\n"
    "      --timeout-ms N    exit after N ms without any message and with nothing\n"
    "                        waiting for delivery (default 0: never; with\n"
    "                        --durable, counted after the catch-up replay)\n"
    "      --durable FILE    lose no alert: keep the last delivered sequence in\n"
    "                        FILE, replay what was missed (see below)\n"
    "      --replay-endpoint EP\n"
    "                        touchpointd's replay endpoint, used with --durable\n"
    "                        (default " TP_TAIL_DEFAULT_REPLAY ")\n"
    "      --replay-timeout-ms N\n"
    "                        give up on a replay after N ms without an answer and\n"
    "                        print live alerts only, retrying every 5 s (default 5000)\n"
    "      --curve-server-key KEY\n"
    "                        the daemon's CURVE public key (Z85, as tp-keygen\n"
    "                        prints it); with --curve-secret-key-file the alert\n"
    "                        and replay sockets are CURVE clients. Not with --bind\n"
    "      --curve-secret-key-file FILE\n"
    "                        this client's secret key (tp-keygen --write FILE);\n"
    "                        the daemon must list its public key in curve_clients\n"
    "      --output FILE     append the JSON lines to FILE instead of stdout;\n"
    "                        SIGHUP reopens FILE (logrotate: move it, then HUP)\n"
    "      --fsync           fsync FILE after every line\n"
    "      --webhook URL     POST each alert (body: its JSON line) to URL,\n"
    "                        http://host[:port][/path] only: for https put a\n"
    "                        TLS-terminating proxy in front of the receiver\n"
    "      --webhook-header 'NAME: VALUE'\n"
    "                        add this header to every POST (repeatable), e.g.\n"
    "                        'Authorization: Bearer TOKEN'\n"
    "      --webhook-timeout-ms N\n"
    "                        give up on one POST after N ms (default 5000)\n"
    "      --webhook-retries N\n"
    "                        retries of one message before tp-tail stops with\n"
    "                        status 1 (default 0: retry forever)\n"
    "      --digest rep|territory|contract|hcp\n"
    "                        group alerts by that field and deliver one digest\n"
    "                        (JSON) per group and window instead of each alert\n"
    "      --digest-window DURATION\n"
    "                        the window, e.g. 300ms, 30s, 5m, 1h (default 5m)\n"
    "  -h, --help            show this help and exit\n"
    "      --version         show the version and exit\n"
    "\n"
    "With --durable, FILE holds the sequence of the last alert delivered\n"
    "(missing: 0). tp-tail subscribes, asks the replay endpoint for every alert\n"
    "after it, holds live alerts back until the replay ends, then delivers live\n"
    "alerts in sequence, dropping duplicates; when the live stream skips a\n"
    "sequence it replays again. --topic is then applied by tp-tail itself. FILE\n"
    "is rewritten (FILE.tmp, fsync, rename) at most every 200 ms and at exit, so\n"
    "after a crash up to 200 ms of alerts are delivered again (at-least-once:\n"
    "dedup by \"sequence\"), none is lost. FILE never moves past an alert the\n"
    "output has not taken (a webhook: answered 2xx; digests: the digest holding\n"
    "it). While the replay endpoint is down, gaps are remembered and filled late\n"
    "(out of order) once it answers again.\n"
    "\n"
    "Delivery is in order, one message at a time. A failed write, a refused\n"
    "connection, a timeout, 5xx, 408 or 429 is retried after 100 ms, doubling to\n"
    "30 s, with jitter; failures are counted and logged (at most one line per\n"
    "10 s). Up to 1000 messages wait meanwhile; then tp-tail stops reading and\n"
    "ZeroMQ drops alerts on the daemon's side (with --durable the next replay\n"
    "brings them back). Any other 4xx refuses that message for good: it is\n"
    "logged whole on stderr with its alert id, counted as failed and skipped.\n"
    "\n"
    "Digests: {\"group_by\",\"key\" (missing field: \"(none)\"),\"window_start\",\n"
    "\"window_end\",\"firing\",\"resolved\",\"by_rule\":{rule:count},\"alerts\":[{\"alert_id\",\n"
    "\"status\",\"rule\",\"summary\"}, the first 50],\"alerts_omitted\"}. A group's window\n"
    "opens with its first alert (wall time in tp-tail); at exit open windows are\n"
    "closed early.\n"
    "\n"
    "At exit tp-tail prints \"tp-tail: alerts N, malformed M\" and \"tp-tail:\n"
    "delivered D, retried R, failed F, pending P\" (messages) on stderr.\n"
    "Exit status: 0 after --count alerts, --timeout-ms of silence, SIGINT or\n"
    "SIGTERM; 1 when a message was refused (4xx) or --webhook-retries ran out;\n"
    "2 usage, ZeroMQ or FILE error.\n";

/* Returns 0 to run, 1 when --help/--version was handled, -EINVAL on a usage
 * error (already reported). */
static int s_parse_args(int argc, char **argv, struct tail_opts *o) {
    enum { OPT_BIND = 256, OPT_TIMEOUT_MS, OPT_VERSION, OPT_DURABLE, OPT_REPLAY,
           OPT_REPLAY_TIMEOUT, OPT_CURVE_SERVER, OPT_CURVE_SECRET, OPT_OUTPUT, OPT_FSYNC,
           OPT_WEBHOOK, OPT_WEBHOOK_HEADER, OPT_WEBHOOK_TIMEOUT, OPT_WEBHOOK_RETRIES,
           OPT_DIGEST, OPT_DIGEST_WINDOW };
    static const struct option longopts[] = {
        { "endpoint",          required_argument, NULL, 'e' },
        { "bind",              no_argument,       NULL, OPT_BIND },
        { "topic",             required_argument, NULL, 't' },
        { "count",             required_argument, NULL, 'c' },
        { "timeout-ms",        required_argument, NULL, OPT_TIMEOUT_MS },
        { "durable",           required_argument, NULL, OPT_DURABLE },
        { "replay-endpoint",   required_argument, NULL, OPT_REPLAY },
        { "replay-timeout-ms", required_argument, NULL, OPT_REPLAY_TIMEOUT },
        { "curve-server-key",  required_argument, NULL, OPT_CURVE_SERVER },
        { "curve-secret-key-file", required_argument, NULL, OPT_CURVE_SECRET },
        { "output",            required_argument, NULL, OPT_OUTPUT },
        { "fsync",             no_argument,       NULL, OPT_FSYNC },
        { "webhook",           required_argument, NULL, OPT_WEBHOOK },
        { "webhook-header",    required_argument, NULL, OPT_WEBHOOK_HEADER },
        { "webhook-timeout-ms", required_argument, NULL, OPT_WEBHOOK_TIMEOUT },
        { "webhook-retries",   required_argument, NULL, OPT_WEBHOOK_RETRIES },
        { "digest",            required_argument, NULL, OPT_DIGEST },
        { "digest-window",     required_argument, NULL, OPT_DIGEST_WINDOW },
        { "help",              no_argument,       NULL, 'h' },
        { "version",           no_argument,       NULL, OPT_VERSION },
        { NULL, 0, NULL, 0 },
    };
    *o = (struct tail_opts){ .endpoint = TP_TAIL_DEFAULT_ENDPOINT,
                             .replay_endpoint = TP_TAIL_DEFAULT_REPLAY,
                             .replay_timeout_ms = 5000, .webhook_timeout_ms = 5000,
                             .digest_window_ms = 5 * 60 * 1000 };
    const char *curve_server = NULL, *curve_secret = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "e:t:c:h", longopts, NULL)) != -1) {
        uint64_t *num = NULL;
        switch (c) {
        case 'e':            o->endpoint = optarg; break;
        case OPT_BIND:       o->bind = true; break;
        case 't':
            if (o->n_topics == TP_TAIL_MAX_TOPICS) {
                fprintf(stderr, "tp-tail: at most %d --topic options\n", TP_TAIL_MAX_TOPICS);
                return -EINVAL;
            }
            o->topics[o->n_topics++] = optarg;
            break;
        case 'c':            num = &o->count; break;
        case OPT_TIMEOUT_MS: num = &o->timeout_ms; break;
        case OPT_DURABLE:    o->durable = optarg; break;
        case OPT_REPLAY:     o->replay_endpoint = optarg; break;
        case OPT_REPLAY_TIMEOUT: num = &o->replay_timeout_ms; break;
        case OPT_CURVE_SERVER: curve_server = optarg; break;
        case OPT_CURVE_SECRET: curve_secret = optarg; break;
        case OPT_OUTPUT:     o->output = optarg; break;
        case OPT_FSYNC:      o->fsync = true; break;
        case OPT_WEBHOOK:    o->webhook = optarg; break;
        case OPT_WEBHOOK_HEADER:
            if (o->n_headers == TP_TAIL_MAX_HEADERS) {
                fprintf(stderr, "tp-tail: at most %d --webhook-header options\n",
                        TP_TAIL_MAX_HEADERS);
                return -EINVAL;
            }
            o->headers[o->n_headers++] = optarg;
            break;
        case OPT_WEBHOOK_TIMEOUT: num = &o->webhook_timeout_ms; break;
        case OPT_WEBHOOK_RETRIES: num = &o->webhook_retries; break;
        case OPT_DIGEST:
            if (tp_digest_parse_by(optarg, &o->digest_by) < 0) {
                fprintf(stderr, "tp-tail: --digest takes rep, territory, contract or hcp, "
                        "not '%s'\n", optarg);
                return -EINVAL;
            }
            o->digest = true;
            break;
        case OPT_DIGEST_WINDOW:
            if (tp_cli_parse_duration_ms(optarg, &o->digest_window_ms) < 0) {
                fprintf(stderr, "tp-tail: invalid --digest-window '%s' (expected a number "
                        "and a unit: ms, s, m, h, d)\n", optarg);
                return -EINVAL;
            }
            break;
        case 'h':            fputs(s_usage, stdout); return 1;
        case OPT_VERSION:    puts("tp-tail " TP_VERSION); return 1;
        default:
            fputs("Try 'tp-tail --help' for more information.\n", stderr);
            return -EINVAL;
        }
        if (num && tp_cli_parse_u64(optarg, num) < 0) {
            fprintf(stderr, "tp-tail: invalid number '%s' for option %s\n", optarg,
                    argv[optind - 1]);
            return -EINVAL;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "tp-tail: unexpected argument '%s'\n", argv[optind]);
        return -EINVAL;
    }
    char err[512];
    if (tp_curve_client_init(curve_server, curve_secret, &o->curve, err, sizeof err) < 0) {
        fprintf(stderr, "tp-tail: %s\n", err);
        return -EINVAL;
    }
    if (o->curve.on && o->bind) {
        fputs("tp-tail: --curve-* with --bind is not supported: with CURVE the daemon binds "
              "and tp-tail connects\n", stderr);
        return -EINVAL;
    }
    if (o->output && o->webhook) {
        fputs("tp-tail: --output and --webhook exclude each other (run two tp-tails)\n", stderr);
        return -EINVAL;
    }
    if ((o->n_headers || o->webhook_retries) && !o->webhook) {
        fputs("tp-tail: --webhook-header and --webhook-retries need --webhook\n", stderr);
        return -EINVAL;
    }
    if (o->fsync && !o->output) {
        fputs("tp-tail: --fsync needs --output\n", stderr);
        return -EINVAL;
    }
    if (o->webhook_timeout_ms == 0 || o->webhook_timeout_ms > 24u * 3600 * 1000) {
        fputs("tp-tail: --webhook-timeout-ms must be between 1 and 86400000\n", stderr);
        return -EINVAL;
    }
    if (o->durable && (!*o->durable || o->replay_timeout_ms == 0)) {
        fputs("tp-tail: --durable needs a file name and --replay-timeout-ms > 0\n", stderr);
        return -EINVAL;
    }
    return 0;
}

static uint64_t s_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Opens the alert SUB. With --durable it subscribes to everything: sequence
 * numbers span all topics, so gaps are only visible in the whole stream. */
static int s_open(void *ctx, const struct tail_opts *o, void **ret) {
    /* A webhook can stall for long: then only a bounded number of alerts may
     * wait inside tp-tail (the queue, plus ZeroMQ's pipe here); stdout and
     * files block tp-tail itself, and keep the unlimited pipe they had. */
    int hwm = o->webhook ? TP_TAIL_QUEUE_MAX : 0, linger = 0;
    void *s = zmq_socket(ctx, ZMQ_SUB);
    if (!s)
        return -zmq_errno();
    if (zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof hwm) < 0 ||
        zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger) < 0 ||
        tp_curve_client_apply(&o->curve, s) < 0)
        goto fail;
    if ((o->n_topics == 0 || o->durable) && zmq_setsockopt(s, ZMQ_SUBSCRIBE, "", 0) < 0)
        goto fail;
    for (size_t i = 0; i < o->n_topics && !o->durable; i++)
        if (zmq_setsockopt(s, ZMQ_SUBSCRIBE, o->topics[i], strlen(o->topics[i])) < 0)
            goto fail;
    if ((o->bind ? zmq_bind(s, o->endpoint) : zmq_connect(s, o->endpoint)) < 0)
        goto fail;
    *ret = s;
    return 0;
fail:;
    int r = -zmq_errno();
    zmq_close(s);
    return r;
}

static bool s_wanted(const struct tail_opts *o, const char *topic, size_t len) {
    for (size_t i = 0; i < o->n_topics; i++) {
        size_t n = strlen(o->topics[i]);
        if (n <= len && memcmp(topic, o->topics[i], n) == 0)
            return true;
    }
    return o->n_topics == 0;
}

/* Decodes one [topic, Alert] message: its sequence in *ret_seq and its JSON
 * line (malloc'd) in *ret_line, or NULL when --topic filters it out.
 * -EBADMSG with a reason in `why` when the message is malformed (with
 * --durable, an alert without a sequence is), -ENOMEM. */
static int s_decode(const struct tail_opts *o, zmq_msg_t frames[2], size_t n_frames, char *why,
                    size_t whylen, uint64_t *ret_seq, char **ret_line) {
    if (n_frames != 2) {
        snprintf(why, whylen, "expected 2 frames [topic, Alert], got %zu", n_frames);
        return -EBADMSG;
    }
    const char *topic = zmq_msg_data(&frames[0]);
    size_t topic_len = zmq_msg_size(&frames[0]);
    Touchpoint__V1__Alert *alert = touchpoint__v1__alert__unpack(
        NULL, zmq_msg_size(&frames[1]), zmq_msg_data(&frames[1]));
    if (!alert) {
        snprintf(why, whylen, "undecodable Alert (%zu bytes) on topic '%.*s'",
                 zmq_msg_size(&frames[1]), (int)(topic_len > 64 ? 64 : topic_len), topic);
        return -EBADMSG;
    }
    int r = 0;
    char *line = NULL;
    if (o->durable && alert->sequence == 0) {
        snprintf(why, whylen, "alert '%.64s' has no sequence", alert->alert_id);
        r = -EBADMSG;
    } else if (s_wanted(o, topic, topic_len)) {
        r = tp_json_dumps_alert(topic, topic_len, &alert->base, &line);
        if (r == -EILSEQ) {
            snprintf(why, whylen, "topic is not valid UTF-8");
            r = -EBADMSG;
        }
    }
    if (r == 0) {
        *ret_seq = alert->sequence;
        *ret_line = line;
    }
    touchpoint__v1__alert__free_unpacked(alert, NULL);
    return r;
}

/* Receives every frame of one message, keeping at most the first two. */
static int s_recv(void *sock, zmq_msg_t frames[2], size_t *ret_n) {
    size_t n = 0;
    int more;
    do {
        zmq_msg_t part;
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, sock, ZMQ_DONTWAIT) < 0) {
            int r = -zmq_errno();
            zmq_msg_close(&part);
            for (size_t i = 0; i < n && i < 2; i++)
                zmq_msg_close(&frames[i]);
            return r;
        }
        more = zmq_msg_more(&part);
        if (n < 2)
            frames[n] = part;
        else
            zmq_msg_close(&part);
        n++;
    } while (more);
    *ret_n = n;
    return 0;
}

/* True once --count alerts were handed on: no more are taken. */
static bool s_done(const struct tail *t) {
    return t->o->count > 0 && t->alerts >= t->o->count;
}

/* Something still waits for delivery: a queued message or an open digest. */
static bool s_pending(const struct tail *t) {
    return tp_sink_queue_length(t->queue) > 0 || (t->digest && tp_digest_open(t->digest) > 0);
}

static uint64_t s_wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* "alert <alertId>" for logs, read from the line without parsing it all:
 * the id is a plain string in practice, escapes are shown as they are. */
static void s_label(const char *line, char *buf, size_t len) {
    static const char key[] = "\"alertId\":\"";
    const char *id = strstr(line, key);
    int n = 0;
    if (id) {
        id += sizeof key - 1;
        while (id[n] && id[n] != '"' && n < 80)
            n += id[n] == '\\' && id[n + 1] ? 2 : 1;
    }
    snprintf(buf, len, "alert %.*s", id ? n : 6, id ? id : "(none)");
}

/* Hands a decoded alert (line owned from here on; NULL = --topic filtered
 * it out) to the digest or the sink queue. */
static void s_emit(struct tail *t, uint64_t seq, char *line) {
    if (!line)
        return;
    t->alerts++;
    int r;
    if (t->digest) {
        uint64_t now = s_now_ms();
        r = tp_digest_add(t->digest, line, seq, now, (int64_t)s_wall_ms());
        if (r == -ENOSPC) {     /* too many groups open: close them all now */
            char *body, label[128];
            size_t len;
            uint64_t min_seq;
            while ((r = tp_digest_take(t->digest, now, (int64_t)s_wall_ms(), true, &body, &len,
                                       &min_seq, label, sizeof label)) > 0)
                if ((r = tp_sink_queue_push(t->queue, body, len, min_seq, label)) < 0)
                    break;
            if (r == 0)
                r = tp_digest_add(t->digest, line, seq, now, (int64_t)s_wall_ms());
        }
        free(line);
    } else {
        char label[128];
        s_label(line, label, sizeof label);
        r = tp_sink_queue_push(t->queue, line, strlen(line), seq, label);
    }
    if (r < 0) {                /* -ENOMEM: stop; with --durable FILE stays before it */
        t->fatal = r;
        if (seq && seq < t->lost_seq)
            t->lost_seq = seq;
    }
}

/* ---- callbacks for --durable (tp_tail_durable.h) ------------------------- */

static void s_emit_cb(void *userdata, uint64_t seq, char *line) {
    s_emit(userdata, seq, line);
}

static bool s_done_cb(void *userdata) {
    return s_done(userdata);
}

static uint64_t s_floor_cb(void *userdata) {
    const struct tail *t = userdata;
    uint64_t floor = tp_sink_queue_floor(t->queue);
    if (t->digest && tp_digest_floor(t->digest) < floor)
        floor = tp_digest_floor(t->digest);
    /* an alert lost to out-of-memory was never delivered either */
    return t->lost_seq < floor ? t->lost_seq : floor;
}

static int s_decode_cb(void *userdata, zmq_msg_t frames[2], size_t n_frames, char *why,
                       size_t whylen, uint64_t *ret_seq, char **ret_line) {
    const struct tail *t = userdata;
    return s_decode(t->o, frames, n_frames, why, whylen, ret_seq, ret_line);
}

/* ---- main loop ----------------------------------------------------------- */

static long s_min_wait(long wait, uint64_t at, uint64_t now) {
    if (at <= now)
        return 0;
    return at - now < (uint64_t)wait ? (long)(at - now) : wait;
}

/* Receives one message from `sock` (the replay DEALER if `replay`) and
 * handles it; 0 or negative errno (fatal, reported). */
static int s_on_readable(struct tail *t, void *sock, bool replay, uint64_t now) {
    zmq_msg_t frames[2];
    size_t n_frames = 0;
    int r = s_recv(sock, frames, &n_frames);
    if (r == -EAGAIN || r == -EINTR)
        return 0;
    if (r < 0) {
        fprintf(stderr, "tp-tail: receive: %s\n", zmq_strerror(-r));
        return r;
    }
    t->active_ms = now;
    char why[256] = "", *line = NULL;
    uint64_t seq = 0;
    if (replay)     /* the DEALER may be gone after this message */
        r = tp_tail_durable_on_replay(t->durable, frames, n_frames, now, why, sizeof why);
    else
        r = s_decode(t->o, frames, n_frames, why, sizeof why, &seq, &line);
    for (size_t i = 0; i < n_frames && i < 2; i++)
        zmq_msg_close(&frames[i]);
    if (r == -EBADMSG) {
        fprintf(stderr, "tp-tail: skipped malformed %smessage: %s\n", replay ? "replay " : "",
                why);
        t->malformed++;
        return 0;
    }
    if (r < 0) {
        fprintf(stderr, "tp-tail: %s\n", strerror(-r));
        return r;
    }
    if (replay)
        return 0;
    if (t->durable)
        tp_tail_durable_on_live(t->durable, seq, line, now);
    else
        s_emit(t, seq, line);
    return 0;
}


/* Closes due digest windows (every open one when `all`) into the queue. */
static int s_close_digests(struct tail *t, uint64_t now, bool all) {
    int r = 0;
    while (t->digest) {
        char *body, label[128];
        size_t len;
        uint64_t min_seq;
        r = tp_digest_take(t->digest, now, (int64_t)s_wall_ms(), all, &body, &len, &min_seq,
                           label, sizeof label);
        if (r <= 0)
            break;
        if ((r = tp_sink_queue_push(t->queue, body, len, min_seq, label)) < 0) {
            if (min_seq && min_seq < t->lost_seq)
                t->lost_seq = min_seq;
            break;
        }
    }
    return r < 0 ? r : 0;
}

/* Moves what is due to the sink; *ret_next is when more will be due.
 * 0, -ETIME (--webhook-retries ran out, reported) or -ENOMEM. */
static int s_deliver(struct tail *t, uint64_t now, bool all, uint64_t *ret_next) {
    int r = s_close_digests(t, now, all);
    if (r < 0)
        return r;
    r = tp_sink_queue_pump(t->queue, now, ret_next);
    if (r == -EINTR)            /* SIGINT/SIGTERM during a POST: we are leaving */
        r = 0;
    if (t->digest && tp_digest_next(t->digest) < *ret_next)
        *ret_next = tp_digest_next(t->digest);
    return r;
}

/* The loop: deliver what is due, then read more unless the queue is full
 * (back-pressure: alerts wait in the daemon's journal, not here), or
 * --count alerts were taken. Ends on a signal, after --count alerts were
 * delivered, after --timeout-ms with nothing to read or deliver. */
static int s_run(struct tail *t, void *sub) {
    const struct tail_opts *o = t->o;
    t->active_ms = s_now_ms();
    if (t->durable)
        tp_tail_durable_start(t->durable, t->ctx, t->active_ms);
    for (;;) {
        uint64_t next = UINT64_MAX;
        if (s_reopen) {
            s_reopen = 0;
            if (tp_sink_queue_reopen(t->queue) == 0 && o->output)
                fprintf(stderr, "tp-tail: reopened '%s'\n", o->output);
        }
        int r = t->fatal ? t->fatal : s_deliver(t, s_now_ms(), s_stop || s_done(t), &next);
        if (r == -ENOMEM)
            fputs("tp-tail: out of memory\n", stderr);
        if (r < 0)
            return r;
        if (s_stop || (s_done(t) && !s_pending(t)))
            break;
        uint64_t now = s_now_ms();      /* a delivery may have taken a while */
        if (s_pending(t))
            t->active_ms = now;         /* --timeout-ms: idle means nothing to deliver either */
        long wait = s_min_wait(TP_TAIL_POLL_SLICE_MS, next, now);
        bool reading = !tp_sink_queue_full(t->queue) && !s_done(t);
        bool replaying = false;
        void *dealer = NULL;
        if (t->durable) {
            if (!reading)
                tp_tail_durable_defer(t->durable, now);
            wait = s_min_wait(wait, tp_tail_durable_tick(t->durable, now), now);
            replaying = tp_tail_durable_replaying(t->durable);
            dealer = tp_tail_durable_socket(t->durable);
            /* a replay that ended or failed counts as activity; times only grow */
            if (tp_tail_durable_settled_ms(t->durable) > t->active_ms)
                t->active_ms = tp_tail_durable_settled_ms(t->durable);
        }
        if (o->timeout_ms > 0 && !replaying) {
            if (now - t->active_ms >= o->timeout_ms)
                break;
            wait = s_min_wait(wait, t->active_ms + o->timeout_ms, now);
        }
        zmq_pollitem_t items[2] = { { .socket = sub, .events = ZMQ_POLLIN },
                                    { .socket = dealer, .events = ZMQ_POLLIN } };
        /* not reading: no items, zmq_poll just waits for the next retry */
        int n = zmq_poll(reading ? items : NULL, reading ? (dealer ? 2 : 1) : 0, wait);
        if (n < 0 && zmq_errno() == EINTR)
            continue;
        if (n < 0) {
            fprintf(stderr, "tp-tail: zmq_poll: %s\n", zmq_strerror(zmq_errno()));
            return -EIO;
        }
        if (!reading || n == 0)
            continue;
        if (dealer && (items[1].revents & ZMQ_POLLIN))
            r = s_on_readable(t, dealer, true, now);
        if (r == 0 && (items[0].revents & ZMQ_POLLIN) && !s_done(t))
            r = s_on_readable(t, sub, false, now);
        if (r < 0)
            return r;
    }
    return 0;
}

/* The sink for the options, in a queue: 0 or EXIT_USAGE (reported). */
static int s_make_queue(const struct tail_opts *o, tp_sink_queue_t **ret) {
    char why[512] = "out of memory";
    tp_sink_t *sink = NULL;
    int r;
    if (o->webhook) {
        const struct tp_sink_webhook_config cfg = {
            .url = o->webhook, .headers = o->headers, .n_headers = o->n_headers,
            .timeout_ms = o->webhook_timeout_ms, .stop = &s_stop,
        };
        r = tp_sink_webhook_new(&cfg, why, sizeof why, &sink);
    } else {
        r = tp_sink_file_new(o->output, o->fsync, why, sizeof why, &sink);
    }
    if (r == 0)
        r = tp_sink_queue_new(sink, TP_TAIL_QUEUE_MAX, o->webhook_retries, ret);
    if (r < 0) {
        fprintf(stderr, "tp-tail: %s\n", r == -ENOMEM ? "out of memory" : why);
        return EXIT_USAGE;
    }
    return 0;
}

int main(int argc, char **argv) {
    struct tail_opts o;
    int r = s_parse_args(argc, argv, &o);
    if (r != 0)
        return r > 0 ? 0 : EXIT_USAGE;

    struct tail t = { .o = &o, .lost_seq = UINT64_MAX };
    if (s_make_queue(&o, &t.queue) != 0)
        return EXIT_USAGE;
    if (o.digest && tp_digest_new(o.digest_by, o.digest_window_ms, &t.digest) < 0) {
        fputs("tp-tail: out of memory\n", stderr);
        tp_sink_queue_destroy(&t.queue);
        return EXIT_USAGE;
    }
    if (o.durable) {
        const struct tp_tail_durable_config cfg = {
            .path = o.durable, .replay_endpoint = o.replay_endpoint,
            .replay_timeout_ms = o.replay_timeout_ms, .userdata = &t, .curve = &o.curve,
            .emit = s_emit_cb, .done = s_done_cb, .decode = s_decode_cb, .floor = s_floor_cb,
        };
        r = tp_tail_durable_new(&cfg, &t.durable);
        if (r < 0) {
            if (r == -ENOMEM)
                fputs("tp-tail: out of memory\n", stderr);
            else
                fprintf(stderr, "tp-tail: cannot use '%s': %s\n", o.durable,
                        r == -EBADMSG ? "not a decimal sequence number" : strerror(-r));
            tp_digest_destroy(&t.digest);
            tp_sink_queue_destroy(&t.queue);
            return EXIT_USAGE;
        }
    }

    struct sigaction sa = { .sa_handler = s_signal_cb };   /* no SA_RESTART: zmq_poll sees EINTR */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    struct sigaction hup = { .sa_handler = s_hup_cb };     /* reopen --output; else a no-op */
    sigemptyset(&hup.sa_mask);
    sigaction(SIGHUP, &hup, NULL);
    if (o.webhook)      /* a receiver closing on us is an error to retry, not death */
        signal(SIGPIPE, SIG_IGN);

    int status = 0;
    void *sock = NULL;
    t.ctx = zmq_ctx_new();
    if (!t.ctx) {
        fprintf(stderr, "tp-tail: zmq_ctx_new: %s\n", zmq_strerror(zmq_errno()));
        status = EXIT_USAGE;
        goto out;
    }
    r = s_open(t.ctx, &o, &sock);
    if (r < 0) {
        fprintf(stderr, "tp-tail: cannot %s '%s': %s\n", o.bind ? "bind" : "connect to",
                o.endpoint, zmq_strerror(-r));
        status = EXIT_USAGE;
        goto out;
    }
    r = s_run(&t, sock);
    if (r == -ETIME)
        status = EXIT_FAILED;
    else if (r < 0)
        status = EXIT_USAGE;
    if (t.durable && tp_tail_durable_save(t.durable, s_now_ms()) < 0)
        status = EXIT_USAGE;
    struct tp_sink_counters c = tp_sink_queue_counters(t.queue);
    if (c.failed > 0 && status == 0)
        status = EXIT_FAILED;
    fprintf(stderr, "tp-tail: alerts %" PRIu64 ", malformed %" PRIu64 "\n", t.alerts, t.malformed);
    fprintf(stderr, "tp-tail: delivered %" PRIu64 ", retried %" PRIu64 ", failed %" PRIu64
            ", pending %zu\n", c.delivered, c.retried, c.failed,
            tp_sink_queue_length(t.queue) + (t.digest ? tp_digest_open(t.digest) : 0));
out:
    tp_tail_durable_destroy(&t.durable);
    if (sock)
        zmq_close(sock);
    if (t.ctx)
        zmq_ctx_term(t.ctx);
    tp_digest_destroy(&t.digest);
    tp_sink_queue_destroy(&t.queue);
    return status;
}
