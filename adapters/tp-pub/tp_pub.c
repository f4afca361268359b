/* tp-pub — the kcat of touchpointd: publishes JSON lines as bus events.
 *
 * Each input line is one proto3 JSON touchpoint.v1.Envelope; it goes out as
 * the two frames of the wire contract, [topic, serialised Envelope], with the
 * topic chosen from the payload by tp_topic_for_payload().
 *
 * Publishing uses an XPUB socket so that tp-pub can see its subscribers: it
 * waits for the first subscription before sending anything, which avoids
 * losing the first events to ZeroMQ's slow-joiner window without sleeping.
 *
 * With --reliable it speaks the reliable ingest protocol instead (DESIGN.md,
 * "Reliable paths"): a DEALER, a window of unacknowledged events, resends;
 * that part lives in tp_pub_reliable.c. With --nats it publishes to
 * JetStream instead (tp_pub_nats.c). This file reads, encodes, paces and
 * reports for every mode.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zmq.h>

#include "tp_contract.h"
#include "tp_partition.h"
#include "tp_cli.h"
#include "tp_input.h"
#include "tp_json.h"
#include "tp_map.h"
#include "tp_pub_reliable.h"
#include "tp_pub_nats.h"


#define TP_PUB_DEFAULT_ENDPOINT "tcp://127.0.0.1:7601"
#define TP_PUB_RELIABLE_ENDPOINT "tcp://127.0.0.1:7603" /* touchpointd's reliable_input */
#define TP_PUB_MAX_WINDOW       1000000
#define TP_PUB_MAX_ACK_TIMEOUT  3600000        /* ms */
#define TP_PUB_LINGER_MS        10000          /* flush budget at exit */
#define TP_PUB_MAX_LINE         (1024 * 1024)  /* longer lines are bad lines */

enum { EXIT_BAD_LINES = 1, EXIT_USAGE = 2 };

struct pub_opts {
    const char *endpoint;       /* where to publish */
    bool        bind;           /* bind instead of connect */
    uint64_t    rate;           /* events per second, 0 = unpaced */
    uint64_t    count;          /* stop after this many events, 0 = all */
    bool        stop_on_error;  /* stop at the first bad line */
    uint64_t    wait_ms;        /* XPUB: wait for a subscriber; reliable: for answers */
    const char *file;           /* input path, "-" = stdin */
    bool        reliable;       /* reliable ingest (DEALER, ACKs) instead of XPUB */
    uint64_t    window;         /* reliable: most unacknowledged events */
    uint64_t    ack_timeout_ms; /* reliable: first resend after this long */
    tp_curve_client_t curve;    /* --curve-*: CURVE client, or plain */
    const char *map;            /* --map: mapping file for a CRM export, or NULL */
    bool        dry_run;        /* print the Envelopes as JSON lines, send nothing */
    const char *nats;           /* --nats: NATS URL, publish to JetStream; NULL = ZeroMQ */
    uint64_t    partitions;     /* --partitions: nats.partition_count of the daemons */
};

struct publisher {
    void    *ctx;
    void    *sock;              /* XPUB */
    bool     subscribed;        /* a subscription has been seen */
    uint64_t start_ns;          /* pacing origin: when the first event went out */
};

static const char s_usage[] =
    "Usage: tp-pub [OPTIONS] [FILE|-]\n"
    "       tp-pub --map MAPPING.yaml [OPTIONS] [EXPORT.csv|EXPORT.jsonl|-]\n"
    "\n"
    "Publish JSON lines to touchpointd. Each line of FILE (standard input if FILE\n"
    "is \"-\" or missing) is one proto3 JSON touchpoint.v1.Envelope; it is sent as\n"
    "the ZeroMQ message [topic, Envelope], the topic (crm.call, crm.contracting,\n"
    "crm.feedback, crm.watermark) following the payload. Blank lines are skipped.\n"
    "Nothing is sent before a subscriber has subscribed (XPUB).\n"
    "\n"
    "With --map the input is a CRM export instead, CSV (a header row first) or\n"
    "JSON lines, with the columns named as the export names them; the mapping\n"
    "file says how each becomes an Envelope (mappings/*.yaml; README, \"From CRM\n"
    "exports to alerts\"). Line numbers are physical lines: a quoted CSV cell\n"
    "holding line breaks counts each.\n"
    "\n"
    "  -m, --map FILE       read a CRM export mapped by the mapping file FILE\n"
    "  -n, --dry-run        send nothing: check every line or row and print each\n"
    "                       Envelope as a JSON line on stdout (what tp-pub reads\n"
    "                       without --map: converts an export to JSON lines)\n"
    "  -e, --endpoint EP    ZeroMQ endpoint (default " TP_PUB_DEFAULT_ENDPOINT ",\n"
    "                       touchpointd's default input)\n"
    "      --bind           bind EP instead of connecting to it\n"
    "  -r, --rate N         publish at most N events per second (default 0: as\n"
    "                       fast as possible)\n"
    "  -c, --count N        stop after N published events (default 0: no limit)\n"
    "      --keep-going     report a bad line and carry on (the default)\n"
    "      --stop-on-error  stop at the first bad line\n"
    "      --wait-ms N      wait up to N ms for a subscriber before the first event\n"
    "                       (default 5000); with --reliable, for the daemon before\n"
    "                       the first event and then for its answers (default 30000)\n"
    "      --reliable       lose nothing: send through touchpointd's reliable input\n"
    "                       (DEALER to its ROUTER, default endpoint\n"
    "                       " TP_PUB_RELIABLE_ENDPOINT "), resend what is not\n"
    "                       acknowledged\n"
    "      --window N       with --reliable, at most N events unacknowledged at\n"
    "                       once (default 1000)\n"
    "      --ack-timeout-ms N  with --reliable, resend an event not acknowledged\n"
    "                       within N ms (default 2000), doubling per event up to 30 s\n"
    "      --curve-server-key KEY\n"
    "                       the daemon's CURVE public key (Z85, as tp-keygen\n"
    "                       prints it); with --curve-secret-key-file every\n"
    "                       socket is a CURVE client. Not with --bind\n"
    "      --curve-secret-key-file FILE\n"
    "                       this client's secret key (tp-keygen --write FILE);\n"
    "                       the daemon must list its public key in curve_clients\n"
    "      --nats URL       publish to JetStream instead (touchpointd's nats mode):\n"
    "                       subject tp.events.<P>.<kind>, P = FNV-1a 32 of hcp_id\n"
    "                       (a contract without one: contract_id) mod --partitions,\n"
    "                       a watermark to every partition; Nats-Msg-Id = eventId\n"
    "                       (required). Waits for every PubAck (--window at most\n"
    "                       outstanding, --wait-ms for the last ones)\n"
    "      --partitions N   with --nats, the daemons' nats.partition_count (default 16)\n"
    "  -h, --help           show this help and exit\n"
    "      --version        show the version and exit\n"
    "\n"
    "A bad line (invalid JSON, not an Envelope, no payload) is reported on stderr\n"
    "as \"tp-pub: FILE:LINE: reason\"; with --map, a bad row as \"tp-pub: FILE:LINE:\n"
    "column NAME: reason\" (e.g. an unknown picklist value, a bad time, a required\n"
    "cell empty) and counted as a bad line. A mapping file that is refused, or a\n"
    "CSV header without a column the mapping reads, stops tp-pub (exit 2). At exit tp-pub prints\n"
    "\"tp-pub: published N, bad lines M\" on stderr.\n"
    "\n"
    "Exit status: 0 every line was published (with --reliable: and acknowledged);\n"
    "1 there were bad lines (also with --keep-going; with --reliable also refused\n"
    "or unacknowledged events); 2 usage, input or ZeroMQ error, or no subscriber\n"
    "within --wait-ms (with --reliable: no daemon connected within --wait-ms).\n"
    "\n"
    "With --reliable every line needs an eventId; the daemon answers each event\n"
    "with an ACK once it is committed or a NACK, reported as \"tp-pub: FILE:LINE:\n"
    "refused by the daemon: reason\" and counted as a bad line. At the end of the\n"
    "input tp-pub waits for every answer; after --wait-ms without any (also while\n"
    "the window is full) it prints \"N events unacknowledged\" and exits 1. An\n"
    "eventId repeated while still unacknowledged is sent again but shares the\n"
    "first one's answer. The summary is \"tp-pub: published N, acknowledged A,\n"
    "refused R, resent S, bad lines M\".\n";

/* Returns 0 to run, 1 when --help/--version was handled, -EINVAL on a usage
 * error (already reported). */
static int s_parse_args(int argc, char **argv, struct pub_opts *o) {
    enum { OPT_BIND = 256, OPT_KEEP_GOING, OPT_STOP_ON_ERROR, OPT_WAIT_MS, OPT_VERSION,
           OPT_RELIABLE, OPT_WINDOW, OPT_ACK_TIMEOUT, OPT_CURVE_SERVER, OPT_CURVE_SECRET,
           OPT_NATS, OPT_PARTITIONS };
    static const struct option longopts[] = {
        { "endpoint",      required_argument, NULL, 'e' },
        { "bind",          no_argument,       NULL, OPT_BIND },
        { "rate",          required_argument, NULL, 'r' },
        { "count",         required_argument, NULL, 'c' },
        { "keep-going",    no_argument,       NULL, OPT_KEEP_GOING },
        { "stop-on-error", no_argument,       NULL, OPT_STOP_ON_ERROR },
        { "wait-ms",       required_argument, NULL, OPT_WAIT_MS },
        { "help",          no_argument,       NULL, 'h' },
        { "version",       no_argument,       NULL, OPT_VERSION },
        { "reliable",      no_argument,       NULL, OPT_RELIABLE },
        { "window",        required_argument, NULL, OPT_WINDOW },
        { "ack-timeout-ms", required_argument, NULL, OPT_ACK_TIMEOUT },
        { "curve-server-key", required_argument, NULL, OPT_CURVE_SERVER },
        { "curve-secret-key-file", required_argument, NULL, OPT_CURVE_SECRET },
        { "map",           required_argument, NULL, 'm' },
        { "dry-run",       no_argument,       NULL, 'n' },
        { "nats",          required_argument, NULL, OPT_NATS },
        { "partitions",    required_argument, NULL, OPT_PARTITIONS },
        { NULL, 0, NULL, 0 },
    };
    *o = (struct pub_opts){ .file = "-", .window = 1000, .ack_timeout_ms = 2000, .partitions = 16 };
    bool window_set = false;
    bool wait_set = false, reliable_opts = false;
    const char *curve_server = NULL, *curve_secret = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "e:r:c:m:nh", longopts, NULL)) != -1) {
        uint64_t *num = NULL;
        switch (c) {
        case 'e':               o->endpoint = optarg; break;
        case OPT_BIND:          o->bind = true; break;
        case 'r':               num = &o->rate; break;
        case 'c':               num = &o->count; break;
        case OPT_KEEP_GOING:    o->stop_on_error = false; break;
        case OPT_STOP_ON_ERROR: o->stop_on_error = true; break;
        case OPT_WAIT_MS:       num = &o->wait_ms; wait_set = true; break;
        case OPT_RELIABLE:      o->reliable = true; break;
        case OPT_WINDOW:        num = &o->window; window_set = true; break;
        case OPT_ACK_TIMEOUT:   num = &o->ack_timeout_ms; reliable_opts = true; break;
        case OPT_CURVE_SERVER:  curve_server = optarg; break;
        case OPT_CURVE_SECRET:  curve_secret = optarg; break;
        case 'm':               o->map = optarg; break;
        case 'n':               o->dry_run = true; break;
        case OPT_NATS:          o->nats = optarg; break;
        case OPT_PARTITIONS:    num = &o->partitions; break;
        case 'h':               fputs(s_usage, stdout); return 1;
        case OPT_VERSION:       puts("tp-pub " TP_VERSION); return 1;
        default:
            fputs("Try 'tp-pub --help' for more information.\n", stderr);
            return -EINVAL;
        }
        if (num && tp_cli_parse_u64(optarg, num) < 0) {
            fprintf(stderr, "tp-pub: invalid number '%s' for option %s\n", optarg, argv[optind - 1]);
            return -EINVAL;
        }
    }
    if ((reliable_opts && !o->reliable) || (window_set && !o->reliable && !o->nats)) {
        fprintf(stderr, "tp-pub: --window and --ack-timeout-ms need --reliable (--window: or "
                "--nats)\n");
        return -EINVAL;
    }
    if (o->nats && (o->reliable || o->endpoint || o->bind || curve_server || curve_secret)) {
        fprintf(stderr, "tp-pub: --nats publishes to JetStream: not with --reliable, --endpoint, "
                "--bind or --curve-*\n");
        return -EINVAL;
    }
    if (o->partitions == 0 || o->partitions > TP_PARTITION_MAX) {
        fprintf(stderr, "tp-pub: --partitions must be 1..%d\n", TP_PARTITION_MAX);
        return -EINVAL;
    }
    char err[512];
    if (tp_curve_client_init(curve_server, curve_secret, &o->curve, err, sizeof err) < 0) {
        fprintf(stderr, "tp-pub: %s\n", err);
        return -EINVAL;
    }
    /* A bound tp-pub would have to be the CURVE server, with its own
     * allow-list: not supported; the documented topology is the daemon
     * binding and the tools connecting. */
    if (o->curve.on && o->bind) {
        fprintf(stderr, "tp-pub: --curve-* with --bind is not supported: with CURVE the daemon "
                "binds and tp-pub connects\n");
        return -EINVAL;
    }
    if (!o->endpoint)
        o->endpoint = o->reliable ? TP_PUB_RELIABLE_ENDPOINT : TP_PUB_DEFAULT_ENDPOINT;
    if (!wait_set)
        o->wait_ms = o->reliable || o->nats ? 30000 : 5000;
    if (o->window == 0 || o->window > TP_PUB_MAX_WINDOW || o->ack_timeout_ms == 0 ||
        o->ack_timeout_ms > TP_PUB_MAX_ACK_TIMEOUT) {
        fprintf(stderr, "tp-pub: --window must be 1..%d, --ack-timeout-ms 1..%d\n",
                TP_PUB_MAX_WINDOW, TP_PUB_MAX_ACK_TIMEOUT);
        return -EINVAL;
    }
    if (o->wait_ms > INT32_MAX || o->rate > 1000000000) {
        fprintf(stderr, "tp-pub: --wait-ms or --rate out of range\n");
        return -EINVAL;
    }
    if (argc - optind > 1) {
        fprintf(stderr, "tp-pub: one input FILE at most\n");
        return -EINVAL;
    }
    if (optind < argc)
        o->file = argv[optind];
    return 0;
}

static uint64_t s_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void s_pub_close(struct publisher *p) {
    /* zmq_ctx_term() blocks until queued messages are flushed or
     * ZMQ_LINGER expires: that is what delivers the tail of a burst. */
    if (p->sock)
        zmq_close(p->sock);
    if (p->ctx)
        zmq_ctx_term(p->ctx);
    *p = (struct publisher){ 0 };
}

static int s_pub_open(struct publisher *p, const struct pub_opts *o) {
    int hwm = 0, linger = TP_PUB_LINGER_MS;
    *p = (struct publisher){ 0 };
    p->ctx = zmq_ctx_new();
    if (!p->ctx)
        return -zmq_errno();
    p->sock = zmq_socket(p->ctx, ZMQ_XPUB);
    /* SNDHWM 0: a burst from a file is queued, not dropped at 1000. */
    if (!p->sock || zmq_setsockopt(p->sock, ZMQ_SNDHWM, &hwm, sizeof hwm) < 0 ||
        zmq_setsockopt(p->sock, ZMQ_LINGER, &linger, sizeof linger) < 0 ||
        tp_curve_client_apply(&o->curve, p->sock) < 0 ||
        (o->bind ? zmq_bind(p->sock, o->endpoint) : zmq_connect(p->sock, o->endpoint)) < 0) {
        int r = -zmq_errno();
        s_pub_close(p);
        return r;
    }
    return 0;
}

/* Reads the subscription messages queued on the XPUB, waiting up to
 * timeout_ms for one (0: just drain). Notes when one is a subscribe. */
static int s_pub_drain(struct publisher *p, int timeout_ms) {
    uint64_t deadline = s_now_ns() + (uint64_t)timeout_ms * 1000000u;
    for (;;) {
        uint64_t now = s_now_ns();
        long wait = timeout_ms == 0 || p->subscribed || now >= deadline
                        ? 0 : (long)((deadline - now + 999999) / 1000000);
        zmq_pollitem_t item = { .socket = p->sock, .events = ZMQ_POLLIN };
        int n = zmq_poll(&item, 1, wait);
        if (n < 0 && zmq_errno() == EINTR)
            continue;
        if (n < 0)
            return -zmq_errno();
        if (n == 0)
            return 0;
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, p->sock, ZMQ_DONTWAIT) < 0) {
            int r = zmq_errno();
            zmq_msg_close(&msg);
            if (r == EAGAIN || r == EINTR)
                continue;
            return -r;
        }
        if (zmq_msg_size(&msg) > 0 && ((const uint8_t *)zmq_msg_data(&msg))[0] == 1)
            p->subscribed = true;
        zmq_msg_close(&msg);
    }
}

/* When event number `seq` (0 = the first, which sets *start_ns) may go out
 * at `rate` per second: absolute deadlines, so that time spent parsing and
 * sending does not slow the average rate. 0 when unpaced. */
static uint64_t s_pace_at(uint64_t *start_ns, uint64_t rate, uint64_t seq) {
    if (rate == 0)
        return 0;
    if (seq == 0)
        *start_ns = s_now_ns();
    return *start_ns + seq * (1000000000u / rate) + seq * (1000000000u % rate) / rate;
}

/* Sends [topic, payload], paced when rate > 0. */
static int s_pub_send(struct publisher *p, const char *topic, const void *data, size_t len,
                      uint64_t rate, uint64_t seq) {
    if (rate > 0) {
        uint64_t at = s_pace_at(&p->start_ns, rate, seq);
        struct timespec ts = { .tv_sec = (time_t)(at / 1000000000u),
                               .tv_nsec = (long)(at % 1000000000u) };
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
            ;
    }
    if (zmq_send(p->sock, topic, strlen(topic), ZMQ_SNDMORE) < 0 ||
        zmq_send(p->sock, data, len, 0) < 0)
        return -zmq_errno();
    return s_pub_drain(p, 0);
}

/* One Envelope (taken: freed here) -> packed, its topic and, if
 * ret_event_id is not NULL, its event_id (malloc'd; required non-empty
 * then). 0, or -EINVAL with a reason in err, or -ENOMEM. */
static int s_encode(ProtobufCMessage *msg, char *err, size_t errlen, const char **ret_topic,
                    uint8_t **ret_buf, size_t *ret_len, char **ret_event_id) {
    int r = 0;
    const Touchpoint__V1__Envelope *env = (const Touchpoint__V1__Envelope *)msg;
    const char *topic = tp_topic_for_payload(env->payload_case);
    uint8_t *buf = NULL;
    char *id = NULL;
    size_t n = 0;
    if (!topic) {
        snprintf(err, errlen, "no payload: one of call, contracting, feedback, watermark is required");
        r = -EINVAL;
        goto out;
    }
    if (ret_event_id && (!env->event_id || !*env->event_id)) {
        snprintf(err, errlen, "no eventId: --reliable needs one, acknowledgements name it");
        r = -EINVAL;
        goto out;
    }
    n = protobuf_c_message_get_packed_size(msg);
    buf = malloc(n ? n : 1);
    if (!buf || (ret_event_id && !(id = strdup(env->event_id)))) {
        free(buf);
        r = -ENOMEM;
        goto out;
    }
    protobuf_c_message_pack(msg, buf);
    if (ret_event_id)
        *ret_event_id = id;
    *ret_topic = topic;
    *ret_buf = buf;
    *ret_len = n;
out:
    protobuf_c_message_free_unpacked(msg, NULL);
    return r;
}

/* Opens the XPUB, or the reliable client in *ret_rel. 0 or negative errno. */
static int s_open(struct publisher *p, tp_pub_reliable_t **ret_rel, const struct pub_opts *o,
                  const char *name) {
    if (!o->reliable)
        return s_pub_open(p, o);
    const struct tp_pub_reliable_config cfg = {
        .endpoint = o->endpoint, .bind = o->bind, .input_name = name,
        .window = (size_t)o->window, .ack_timeout_ms = o->ack_timeout_ms, .wait_ms = o->wait_ms,
        .curve = &o->curve,
    };
    return tp_pub_reliable_new(&cfg, ret_rel);
}

/* XPUB: sends one event, waiting for the first subscriber before the first
 * one. Takes buf. 0; -ETIMEDOUT no subscriber (reported); negative errno. */
static int s_pub_event(struct publisher *p, const struct pub_opts *o, const char *topic,
                       uint8_t *buf, size_t n, uint64_t seq) {
    int r = 0;
    if (!p->subscribed) {
        r = s_pub_drain(p, (int)o->wait_ms);
        if (r >= 0 && !p->subscribed) {
            fprintf(stderr, "tp-pub: no subscriber on '%s' within %" PRIu64 " ms\n",
                    o->endpoint, o->wait_ms);
            r = -ETIMEDOUT;
        }
    }
    if (r >= 0)
        r = s_pub_send(p, topic, buf, n, o->rate, seq);
    free(buf);
    return r;
}

/* --nats: one Envelope (taken: freed here) to JetStream. 0, -EINVAL (a bad
 * line, reason in err) or another negative errno (reason in err). */
static int s_nats_event(tp_pub_nats_t *nats, ProtobufCMessage *msg, char *err, size_t errlen) {
    const Touchpoint__V1__Envelope *env = (const Touchpoint__V1__Envelope *)msg;
    const char *topic = tp_topic_for_payload(env->payload_case);
    int r = -EINVAL;
    uint8_t *buf = NULL;
    if (!topic)
        snprintf(err, errlen, "no payload: one of call, contracting, feedback, watermark is required");
    else if (!env->event_id || !*env->event_id)
        snprintf(err, errlen, "no eventId: --nats needs one, it is the Nats-Msg-Id");
    else if (!(buf = malloc(protobuf_c_message_get_packed_size(msg) + 1)))
        r = -ENOMEM;
    else {
        size_t n = protobuf_c_message_pack(msg, buf);
        r = tp_pub_nats_send(nats, env, topic, buf, n, err, errlen);
        if (r == -EINVAL)
            r = -EIO;   /* not the line's fault */
    }
    free(buf);
    protobuf_c_message_free_unpacked(msg, NULL);
    return r;
}

/* --nats: the whole input to JetStream, then every PubAck awaited. */
static int s_run_nats(const struct pub_opts *o, tp_input_t *input, const char *name) {
    char err[512] = "";
    tp_pub_nats_t *nats = NULL;
    if (tp_pub_nats_new(o->nats, (unsigned)o->partitions, o->window, o->wait_ms, err, sizeof err,
                        &nats) < 0) {
        fprintf(stderr, "tp-pub: cannot connect to '%s': %s\n", o->nats, err);
        return EXIT_USAGE;
    }
    uint64_t events = 0, bad = 0, pace_start = 0;
    int status = 0;
    while (o->count == 0 || events < o->count) {
        ProtobufCMessage *env = NULL;
        size_t lineno = 0;
        err[0] = '\0';
        int r = tp_input_next(input, &env, &lineno, err, sizeof err);
        if (r == 0)
            break;
        if (r > 0) {
            uint64_t at = s_pace_at(&pace_start, o->rate, events);
            struct timespec ts = { .tv_sec = (time_t)(at / 1000000000u),
                                   .tv_nsec = (long)(at % 1000000000u) };
            while (at && clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
                ;
            r = s_nats_event(nats, env, err, sizeof err);
        }
        if (r == -EINVAL) {
            fprintf(stderr, "tp-pub: %s:%zu: %s\n", name, lineno, err);
            bad++;
            if (o->stop_on_error)
                break;
            continue;
        }
        if (r < 0) {
            fprintf(stderr, "tp-pub: %s:%zu: %s\n", name, lineno, *err ? err : strerror(-r));
            status = EXIT_USAGE;
            break;
        }
        events++;
    }
    int r = tp_pub_nats_drain(nats);
    struct tp_pub_nats_stats st;
    tp_pub_nats_get_stats(nats, &st);
    uint64_t pending = st.published - st.acknowledged - st.failed;
    if (r < 0)
        fprintf(stderr, "tp-pub: %" PRIu64 " messages unacknowledged after %" PRIu64 " ms\n",
                pending, o->wait_ms);
    fprintf(stderr, "tp-pub: published %" PRIu64 " events (%" PRIu64 " messages), acknowledged %"
            PRIu64 " (duplicates %" PRIu64 "), failed %" PRIu64 ", bad lines %" PRIu64 "\n",
            events, st.published, st.acknowledged, st.duplicates, st.failed, bad);
    tp_pub_nats_destroy(&nats);
    if (status == 0 && (bad > 0 || st.failed > 0 || pending > 0))
        status = EXIT_BAD_LINES;
    return status;
}

int main(int argc, char **argv) {
    struct pub_opts o;
    struct publisher pub = { 0 };
    tp_pub_reliable_t *rel = NULL;
    struct tp_pub_reliable_stats st = { 0 };
    int r = s_parse_args(argc, argv, &o);
    if (r != 0)
        return r > 0 ? 0 : EXIT_USAGE;

    tp_map_t *map = NULL;
    tp_input_t *input = NULL;
    char err[512] = "";
    if (o.map && tp_map_new_from_file(o.map, err, sizeof err, &map) < 0) {
        fprintf(stderr, "tp-pub: %s\n", err);
        return EXIT_USAGE;
    }
    bool use_stdin = strcmp(o.file, "-") == 0;
    const char *name = use_stdin ? "<stdin>" : o.file;
    FILE *in = use_stdin ? stdin : fopen(o.file, "re");
    if (!in) {
        fprintf(stderr, "tp-pub: cannot open '%s': %s\n", o.file, strerror(errno));
        tp_map_destroy(&map);
        return EXIT_USAGE;
    }
    int status = 0;
    if (tp_input_new(in, map, TP_PUB_MAX_LINE, &input) < 0) {
        fprintf(stderr, "tp-pub: out of memory\n");
        status = EXIT_USAGE;
        goto out;
    }
    if (o.nats && !o.dry_run) {
        status = s_run_nats(&o, input, name);
        goto out;
    }
    r = o.dry_run ? 0 : s_open(&pub, &rel, &o, name);
    if (r < 0) {
        fprintf(stderr, "tp-pub: cannot %s '%s': %s\n", o.bind ? "bind" : "connect to",
                o.endpoint, zmq_strerror(-r));
        status = EXIT_USAGE;
        goto out;
    }

    uint64_t published = 0, bad = 0, pace_start = 0;
    bool unanswered = false;        /* --reliable gave up waiting for answers */
    while (o.count == 0 || published < o.count) {
        const char *topic = NULL;
        uint8_t *buf = NULL;
        char *event_id = NULL;
        ProtobufCMessage *env = NULL;
        size_t n = 0, lineno = 0;
        err[0] = '\0';
        r = tp_input_next(input, &env, &lineno, err, sizeof err);
        if (r == 0)
            break;
        char *json = NULL;
        if (r > 0 && o.dry_run && !(json = tp_json_dumps_message(env))) {
            protobuf_c_message_free_unpacked(env, NULL);
            r = -ENOMEM;
        }
        if (r > 0)
            r = s_encode(env, err, sizeof err, &topic, &buf, &n, o.reliable ? &event_id : NULL);
        if (o.dry_run && r == 0) {
            puts(json);
            free(json);
            free(buf);
            free(event_id);
            published++;
            continue;
        }
        free(json);
        if (r == -EINVAL) {
            fprintf(stderr, "tp-pub: %s:%zu: %s\n", name, lineno, err);
            bad++;
            if (o.stop_on_error)
                break;
            continue;
        }
        if (r < 0) {
            /* A CSV header the mapping cannot use, or the input failed. */
            if (*err)
                fprintf(stderr, "tp-pub: %s: %s\n", name, err);
            else
                fprintf(stderr, "tp-pub: reading '%s': %s\n", name, strerror(-r));
            status = EXIT_USAGE;
            break;
        }
        if (o.reliable && published == 0 && (r = tp_pub_reliable_wait_peer(rel)) < 0) {
            if (r == -ETIMEDOUT)
                fprintf(stderr, "tp-pub: no daemon on '%s' within %" PRIu64 " ms\n",
                        o.endpoint, o.wait_ms);
            else
                fprintf(stderr, "tp-pub: polling '%s' failed: %s\n", o.endpoint, zmq_strerror(-r));
            free(event_id);
            free(buf);
            status = EXIT_USAGE;
            break;
        }
        if (o.reliable) {
            r = tp_pub_reliable_send(rel, event_id, topic, buf, n, lineno,
                                     s_pace_at(&pace_start, o.rate, published));
            free(event_id);
            tp_pub_reliable_get_stats(rel, &st);
        } else {
            r = s_pub_event(&pub, &o, topic, buf, n, published);
        }
        if (r == -ETIMEDOUT) {
            unanswered = o.reliable;
            status = o.reliable ? 0 : EXIT_USAGE;
            break;
        }
        if (r < 0) {
            fprintf(stderr, "tp-pub: send to '%s' failed: %s\n", o.endpoint, zmq_strerror(-r));
            status = EXIT_USAGE;
            break;
        }
        published++;
        if (o.stop_on_error && st.refused > 0)
            break;
    }
    if (o.reliable) {
        /* Whatever was sent is waited for, also after a bad line. */
        r = status == 0 && !unanswered ? tp_pub_reliable_drain(rel) : 0;
        if (r == -ETIMEDOUT)
            unanswered = true;
        else if (r < 0) {
            fprintf(stderr, "tp-pub: talking to '%s' failed: %s\n", o.endpoint, zmq_strerror(-r));
            status = EXIT_USAGE;
        }
        tp_pub_reliable_get_stats(rel, &st);
        if (unanswered)
            fprintf(stderr, "tp-pub: %" PRIu64 " events unacknowledged after %" PRIu64 " ms "
                    "without an answer from '%s'\n", st.pending, o.wait_ms, o.endpoint);
        bad += st.refused;
        fprintf(stderr, "tp-pub: published %" PRIu64 ", acknowledged %" PRIu64 ", refused %"
                PRIu64 ", resent %" PRIu64 ", bad lines %" PRIu64 "\n", st.published,
                st.acknowledged, st.refused, st.resent, bad);
    } else {
        fprintf(stderr, "tp-pub: %s %" PRIu64 ", bad lines %" PRIu64 "\n",
                o.dry_run ? "checked" : "published", published, bad);
    }
    if (status == 0 && (bad > 0 || unanswered))
        status = EXIT_BAD_LINES;
out:
    tp_pub_reliable_destroy(&rel);
    s_pub_close(&pub);
    tp_input_destroy(&input);
    tp_map_destroy(&map);
    if (!use_stdin)
        fclose(in);
    return status;
}
