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
 * the last printed sequence in FILE.
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
#include "tp_json.h"
#include "tp_tail_durable.h"


#define TP_TAIL_DEFAULT_ENDPOINT "tcp://127.0.0.1:7602"
#define TP_TAIL_DEFAULT_REPLAY   "tcp://127.0.0.1:7604"
#define TP_TAIL_MAX_TOPICS       64
#define TP_TAIL_POLL_SLICE_MS    200      /* bounds how late a signal is noticed */

enum { EXIT_USAGE = 2 };

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
};

struct tail {
    const struct tail_opts *o;
    void              *ctx;
    uint64_t           alerts, malformed;       /* printed / skipped messages */
    uint64_t           active_ms;               /* last message or end of a replay, for --timeout-ms */
    tp_tail_durable_t *durable;                 /* --durable only, else NULL */
};

static volatile sig_atomic_t s_stop;

static void s_signal_cb(int sig) {
    (void)sig;
    s_stop = 1;
}

static const char s_usage[] =
    "Usage: tp-tail [OPTIONS]\n"
    "\n"
    "Follow touchpointd's alerts: subscribe to the alert endpoint and print one\n"
    "JSON line per alert on stdout (the touchpoint.v1.Alert in proto3 JSON plus a\n"
    "\"topic\" member). Malformed messages are reported on stderr and skipped.\n"
    "\n"
    "  -e, --endpoint EP     ZeroMQ endpoint (default " TP_TAIL_DEFAULT_ENDPOINT ",\n"
    "                        touchpointd's default output)\n"
    "      --bind            bind EP instead of connecting to it\n"
    "  -t, --topic PREFIX    only alerts whose topic starts with PREFIX, e.g.\n"
    "                        \"friction.\" (repeatable; default: all)\n"
    "  -c, --count N         exit after N alerts (default 0: never)\n"
    "      --timeout-ms N    exit after N ms without any message (default 0: never;\n"
    "                        with --durable, counted after the catch-up replay)\n"
    "      --durable FILE    lose no alert: keep the last printed sequence in FILE,\n"
    "                        replay what was missed (see below)\n"
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
    "  -h, --help            show this help and exit\n"
    "      --version         show the version and exit\n"
    "\n"
    "With --durable, FILE holds the sequence of the last alert printed (missing:\n"
    "0). tp-tail subscribes, asks the replay endpoint for every alert after it,\n"
    "holds live alerts back until the replay ends, then prints live alerts in\n"
    "sequence, dropping duplicates; when the live stream skips a sequence it\n"
    "replays again. --topic is then applied by tp-tail itself. FILE is rewritten\n"
    "(FILE.tmp, fsync, rename) at most every 200 ms and at exit, so after a crash\n"
    "up to 200 ms of alerts are printed again (at-least-once: dedup by\n"
    "\"sequence\"), none is lost. While the replay endpoint is down, gaps are\n"
    "remembered and filled late (out of order) once it answers again.\n"
    "\n"
    "At exit tp-tail prints \"tp-tail: alerts N, malformed M\" on stderr.\n"
    "Exit status: 0 after --count alerts, --timeout-ms of silence, SIGINT or\n"
    "SIGTERM; 2 usage, ZeroMQ or FILE error.\n";

/* Returns 0 to run, 1 when --help/--version was handled, -EINVAL on a usage
 * error (already reported). */
static int s_parse_args(int argc, char **argv, struct tail_opts *o) {
    enum { OPT_BIND = 256, OPT_TIMEOUT_MS, OPT_VERSION, OPT_DURABLE, OPT_REPLAY,
           OPT_REPLAY_TIMEOUT, OPT_CURVE_SERVER, OPT_CURVE_SECRET };
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
        { "help",              no_argument,       NULL, 'h' },
        { "version",           no_argument,       NULL, OPT_VERSION },
        { NULL, 0, NULL, 0 },
    };
    *o = (struct tail_opts){ .endpoint = TP_TAIL_DEFAULT_ENDPOINT,
                             .replay_endpoint = TP_TAIL_DEFAULT_REPLAY,
                             .replay_timeout_ms = 5000 };
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
    int hwm = 0, linger = 0;
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

static bool s_done(const struct tail *t) {
    return t->o->count > 0 && t->alerts >= t->o->count;
}

/* Prints (and frees) a line; NULL is an alert --topic filtered out. */
static void s_emit(struct tail *t, char *line) {
    if (line) {
        printf("%s\n", line);       /* one line per alert, flushed: a pipe sees it at once */
        fflush(stdout);
        free(line);
        t->alerts++;
    }
}

/* ---- callbacks for --durable (tp_tail_durable.h) ------------------------- */

static void s_emit_cb(void *userdata, char *line) {
    s_emit(userdata, line);
}

static bool s_done_cb(void *userdata) {
    return s_done(userdata);
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
        s_emit(t, line);
    return 0;
}

static int s_run(struct tail *t, void *sub) {
    const struct tail_opts *o = t->o;
    t->active_ms = s_now_ms();
    if (t->durable)
        tp_tail_durable_start(t->durable, t->ctx, t->active_ms);
    while (!s_stop && !s_done(t)) {
        uint64_t now = s_now_ms();
        long wait = TP_TAIL_POLL_SLICE_MS;
        bool replaying = false;
        void *dealer = NULL;
        if (t->durable) {
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
        int n = zmq_poll(items, dealer ? 2 : 1, wait);
        if (n < 0 && zmq_errno() == EINTR)
            continue;
        if (n < 0) {
            fprintf(stderr, "tp-tail: zmq_poll: %s\n", zmq_strerror(zmq_errno()));
            return -EIO;
        }
        int r = 0;
        if (dealer && (items[1].revents & ZMQ_POLLIN))
            r = s_on_readable(t, dealer, true, now);
        if (r == 0 && (items[0].revents & ZMQ_POLLIN) && !s_done(t))
            r = s_on_readable(t, sub, false, now);
        if (r < 0)
            return r;
    }
    return 0;
}

int main(int argc, char **argv) {
    struct tail_opts o;
    int r = s_parse_args(argc, argv, &o);
    if (r != 0)
        return r > 0 ? 0 : EXIT_USAGE;

    struct tail t = { .o = &o };
    if (o.durable) {
        const struct tp_tail_durable_config cfg = {
            .path = o.durable, .replay_endpoint = o.replay_endpoint,
            .replay_timeout_ms = o.replay_timeout_ms, .userdata = &t, .curve = &o.curve,
            .emit = s_emit_cb, .done = s_done_cb, .decode = s_decode_cb,
        };
        r = tp_tail_durable_new(&cfg, &t.durable);
        if (r == -ENOMEM) {
            fputs("tp-tail: out of memory\n", stderr);
            return EXIT_USAGE;
        }
        if (r < 0) {
            fprintf(stderr, "tp-tail: cannot use '%s': %s\n", o.durable,
                    r == -EBADMSG ? "not a decimal sequence number" : strerror(-r));
            return EXIT_USAGE;
        }
    }

    struct sigaction sa = { .sa_handler = s_signal_cb };   /* no SA_RESTART: zmq_poll sees EINTR */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    int status = 0;
    void *sock = NULL;
    t.ctx = zmq_ctx_new();
    if (!t.ctx) {
        fprintf(stderr, "tp-tail: zmq_ctx_new: %s\n", zmq_strerror(zmq_errno()));
        tp_tail_durable_destroy(&t.durable);
        return EXIT_USAGE;
    }
    r = s_open(t.ctx, &o, &sock);
    if (r < 0) {
        fprintf(stderr, "tp-tail: cannot %s '%s': %s\n", o.bind ? "bind" : "connect to",
                o.endpoint, zmq_strerror(-r));
        status = EXIT_USAGE;
        goto out;
    }
    if (s_run(&t, sock) < 0)
        status = EXIT_USAGE;
    if (t.durable && tp_tail_durable_save(t.durable, s_now_ms()) < 0)
        status = EXIT_USAGE;
    fprintf(stderr, "tp-tail: alerts %" PRIu64 ", malformed %" PRIu64 "\n", t.alerts, t.malformed);
out:
    tp_tail_durable_destroy(&t.durable);
    if (sock)
        zmq_close(sock);
    zmq_ctx_term(t.ctx);
    return status;
}
