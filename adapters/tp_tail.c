/* tp-tail — follows touchpointd's alert stream and prints it as JSON lines.
 *
 * Subscribes to the alert PUB endpoint, decodes each [topic, Alert] message
 * and writes one compact JSON object per alert to stdout: the Alert in proto3
 * JSON plus a "topic" member. Malformed messages are reported on stderr and
 * skipped; nothing a peer sends can make it crash or stop.
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


#define TP_TAIL_DEFAULT_ENDPOINT "tcp://127.0.0.1:7602"
#define TP_TAIL_MAX_TOPICS       64
#define TP_TAIL_POLL_SLICE_MS    200   /* bounds how late a signal is noticed */

enum { EXIT_USAGE = 2 };

struct tail_opts {
    const char *endpoint;                       /* alert endpoint */
    bool        bind;                           /* bind instead of connect */
    const char *topics[TP_TAIL_MAX_TOPICS];     /* subscription prefixes */
    size_t      n_topics;                       /* 0 = everything */
    uint64_t    count;                          /* exit after N alerts, 0 = never */
    uint64_t    timeout_ms;                     /* exit after N idle ms, 0 = never */
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
    "      --timeout-ms N    exit after N ms without any message (default 0: never)\n"
    "  -h, --help            show this help and exit\n"
    "      --version         show the version and exit\n"
    "\n"
    "At exit tp-tail prints \"tp-tail: alerts N, malformed M\" on stderr.\n"
    "Exit status: 0 after --count alerts, --timeout-ms of silence, SIGINT or\n"
    "SIGTERM; 2 usage or ZeroMQ error.\n";

/* Returns 0 to run, 1 when --help/--version was handled, -EINVAL on a usage
 * error (already reported). */
static int s_parse_args(int argc, char **argv, struct tail_opts *o) {
    enum { OPT_BIND = 256, OPT_TIMEOUT_MS, OPT_VERSION };
    static const struct option longopts[] = {
        { "endpoint",   required_argument, NULL, 'e' },
        { "bind",       no_argument,       NULL, OPT_BIND },
        { "topic",      required_argument, NULL, 't' },
        { "count",      required_argument, NULL, 'c' },
        { "timeout-ms", required_argument, NULL, OPT_TIMEOUT_MS },
        { "help",       no_argument,       NULL, 'h' },
        { "version",    no_argument,       NULL, OPT_VERSION },
        { NULL, 0, NULL, 0 },
    };
    *o = (struct tail_opts){ .endpoint = TP_TAIL_DEFAULT_ENDPOINT };
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
    return 0;
}

static uint64_t s_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int s_open(void *ctx, const struct tail_opts *o, void **ret) {
    int hwm = 0, linger = 0;
    void *s = zmq_socket(ctx, ZMQ_SUB);
    if (!s)
        return -zmq_errno();
    if (zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof hwm) < 0 ||
        zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger) < 0)
        goto fail;
    if (o->n_topics == 0 && zmq_setsockopt(s, ZMQ_SUBSCRIBE, "", 0) < 0)
        goto fail;
    for (size_t i = 0; i < o->n_topics; i++)
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

/* Turns one [topic, Alert] message into its JSON line (malloc'd, in
 * *ret_line). -EBADMSG with a reason in `why` when the message is malformed,
 * -ENOMEM. */
static int s_format(zmq_msg_t frames[2], size_t n_frames, char *why, size_t whylen,
                    char **ret_line) {
    if (n_frames != 2) {
        snprintf(why, whylen, "expected 2 frames [topic, Alert], got %zu", n_frames);
        return -EBADMSG;
    }
    const char *topic = zmq_msg_data(&frames[0]);
    size_t topic_len = zmq_msg_size(&frames[0]);
    ProtobufCMessage *alert = protobuf_c_message_unpack(
        &touchpoint__v1__alert__descriptor, NULL, zmq_msg_size(&frames[1]), zmq_msg_data(&frames[1]));
    if (!alert) {
        snprintf(why, whylen, "undecodable Alert (%zu bytes) on topic '%.*s'",
                 zmq_msg_size(&frames[1]), (int)(topic_len > 64 ? 64 : topic_len), topic);
        return -EBADMSG;
    }
    int r = tp_json_dumps_alert(topic, topic_len, alert, ret_line);
    if (r == -EILSEQ) {
        snprintf(why, whylen, "topic is not valid UTF-8");
        r = -EBADMSG;
    }
    protobuf_c_message_free_unpacked(alert, NULL);
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

int main(int argc, char **argv) {
    struct tail_opts o;
    int r = s_parse_args(argc, argv, &o);
    if (r != 0)
        return r > 0 ? 0 : EXIT_USAGE;

    struct sigaction sa = { .sa_handler = s_signal_cb };   /* no SA_RESTART: zmq_poll sees EINTR */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    int status = 0;
    uint64_t alerts = 0, malformed = 0;
    void *sock = NULL;
    void *ctx = zmq_ctx_new();
    if (!ctx) {
        fprintf(stderr, "tp-tail: zmq_ctx_new: %s\n", zmq_strerror(zmq_errno()));
        return EXIT_USAGE;
    }
    r = s_open(ctx, &o, &sock);
    if (r < 0) {
        fprintf(stderr, "tp-tail: cannot %s '%s': %s\n", o.bind ? "bind" : "connect to",
                o.endpoint, zmq_strerror(-r));
        status = EXIT_USAGE;
        goto out;
    }

    uint64_t last = s_now_ms();
    while (!s_stop && (o.count == 0 || alerts < o.count)) {
        long wait = TP_TAIL_POLL_SLICE_MS;
        if (o.timeout_ms > 0) {
            uint64_t now = s_now_ms();
            if (now - last >= o.timeout_ms)
                break;
            if (o.timeout_ms - (now - last) < (uint64_t)wait)
                wait = (long)(o.timeout_ms - (now - last));
        }
        zmq_pollitem_t item = { .socket = sock, .events = ZMQ_POLLIN };
        int n = zmq_poll(&item, 1, wait);
        if (n < 0 && zmq_errno() == EINTR)
            continue;
        if (n < 0) {
            fprintf(stderr, "tp-tail: zmq_poll: %s\n", zmq_strerror(zmq_errno()));
            status = EXIT_USAGE;
            break;
        }
        if (n == 0)
            continue;

        zmq_msg_t frames[2];
        size_t n_frames = 0;
        r = s_recv(sock, frames, &n_frames);
        if (r == -EAGAIN || r == -EINTR)
            continue;
        if (r < 0) {
            fprintf(stderr, "tp-tail: receive: %s\n", zmq_strerror(-r));
            status = EXIT_USAGE;
            break;
        }
        last = s_now_ms();
        char why[256] = "", *text = NULL;
        r = s_format(frames, n_frames, why, sizeof why, &text);
        for (size_t i = 0; i < n_frames && i < 2; i++)
            zmq_msg_close(&frames[i]);
        if (r == -EBADMSG) {
            fprintf(stderr, "tp-tail: skipped malformed message: %s\n", why);
            malformed++;
            continue;
        }
        if (r < 0) {
            fprintf(stderr, "tp-tail: %s\n", strerror(-r));
            status = EXIT_USAGE;
            break;
        }
        /* One line per alert, flushed, so a pipe sees it at once. */
        printf("%s\n", text);
        fflush(stdout);
        free(text);
        alerts++;
    }
    fprintf(stderr, "tp-tail: alerts %" PRIu64 ", malformed %" PRIu64 "\n", alerts, malformed);
out:
    if (sock)
        zmq_close(sock);
    zmq_ctx_term(ctx);
    return status;
}
