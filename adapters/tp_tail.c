/* tp-tail — follows touchpointd's alert stream and prints it as JSON lines.
 *
 * Subscribes to the alert PUB endpoint, decodes each [topic, Alert] message
 * and writes one compact JSON object per alert to stdout: the Alert in proto3
 * JSON plus a "topic" member. Malformed messages are reported on stderr and
 * skipped; nothing a peer sends can make it crash or stop.
 *
 * With --durable FILE it is a Clone-pattern client (DESIGN.md, "Reliable
 * paths"): it subscribes first, asks the replay ROUTER for every alert after
 * the sequence saved in FILE, holds live alerts back until the replay's END,
 * drops live duplicates by sequence and replays again whenever the live
 * stream skips a sequence. Printed or filtered-out sequences advance `last`,
 * which is saved to FILE (tmp + fsync + rename) at most every 200 ms.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "tp_contract.h"
#include "tp_cli.h"
#include "tp_json.h"


#define TP_TAIL_DEFAULT_ENDPOINT "tcp://127.0.0.1:7602"
#define TP_TAIL_DEFAULT_REPLAY   "tcp://127.0.0.1:7604"
#define TP_TAIL_MAX_TOPICS       64
#define TP_TAIL_POLL_SLICE_MS    200      /* bounds how late a signal is noticed */
#define TP_TAIL_SAVE_EVERY_MS    200      /* at most this much is printed twice after a crash */
#define TP_TAIL_RETRY_MS         5000     /* replay retry period while the endpoint is down */
#define TP_TAIL_MAX_HELD         100000   /* live alerts held back during one replay */
#define TP_TAIL_MAX_HOLES        64       /* distinct gaps remembered while replay is down */

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
};

struct span { uint64_t lo, hi; };               /* sequences lo..hi, never printed */
struct held { uint64_t seq; char *line; };      /* a held-back live alert; line NULL = filtered */

struct tail {
    const struct tail_opts *o;
    void        *ctx;
    uint64_t     alerts, malformed;             /* printed / skipped messages */
    uint64_t     active_ms;                     /* last message or end of a replay, for --timeout-ms */
    /* --durable only */
    char        *tmp_path;                      /* FILE.tmp */
    void        *dealer;                        /* replay socket, NULL while the endpoint is down */
    uint64_t     last;                          /* highest sequence printed or filtered out */
    struct span  holes[TP_TAIL_MAX_HOLES];      /* gaps passed over while down, ascending */
    size_t       n_holes;
    struct held *held;                          /* live alerts held during a replay, FIFO */
    size_t       held_head, held_n, held_cap;   /* entries [held_head, held_n) are live */
    bool         replaying;                     /* REPLAY sent, END not yet received */
    bool         again;                         /* replay again after END (held ones dropped) */
    bool         down;                          /* replay endpoint failed: gaps become holes */
    uint64_t     round_start;                   /* `last` when the REPLAY was sent */
    uint64_t     deadline_ms;                   /* replaying: give up if silent until then */
    uint64_t     retry_ms;                      /* down: next attempt */
    uint64_t     saved, saved_ms;               /* position in FILE and when it was written */
    int          save_err;                      /* last save error reported (report once) */
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
           OPT_REPLAY_TIMEOUT };
    static const struct option longopts[] = {
        { "endpoint",          required_argument, NULL, 'e' },
        { "bind",              no_argument,       NULL, OPT_BIND },
        { "topic",             required_argument, NULL, 't' },
        { "count",             required_argument, NULL, 'c' },
        { "timeout-ms",        required_argument, NULL, OPT_TIMEOUT_MS },
        { "durable",           required_argument, NULL, OPT_DURABLE },
        { "replay-endpoint",   required_argument, NULL, OPT_REPLAY },
        { "replay-timeout-ms", required_argument, NULL, OPT_REPLAY_TIMEOUT },
        { "help",              no_argument,       NULL, 'h' },
        { "version",           no_argument,       NULL, OPT_VERSION },
        { NULL, 0, NULL, 0 },
    };
    *o = (struct tail_opts){ .endpoint = TP_TAIL_DEFAULT_ENDPOINT,
                             .replay_endpoint = TP_TAIL_DEFAULT_REPLAY,
                             .replay_timeout_ms = 5000 };
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
        zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger) < 0)
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

/* ---- --durable: position file ------------------------------------------ */

/* Reads the sequence saved in `path` into *ret (0 when there is no file
 * yet). -EBADMSG unless the file is one decimal number and an optional
 * newline; other negative errno on I/O errors. */
static int s_load_position(const char *path, uint64_t *ret) {
    char buf[32];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        *ret = 0;
        return 0;
    }
    if (fd < 0)
        return -errno;
    ssize_t got = read(fd, buf, sizeof buf - 1);
    int saved = errno;
    close(fd);
    if (got < 0)
        return -saved;
    size_t n = (size_t)got;
    buf[n] = '\0';
    if (n > 0 && buf[n - 1] == '\n')
        buf[--n] = '\0';
    if (strlen(buf) != n || tp_cli_parse_u64(buf, ret) < 0)
        return -EBADMSG;
    return 0;
}

/* Atomically replaces `path` with `pos`: write tmp, fsync, rename. A crash
 * leaves the old or the new value, never a torn one. 0 or negative errno. */
static int s_store_position(const char *path, const char *tmp, uint64_t pos) {
    char buf[32];
    int len = snprintf(buf, sizeof buf, "%" PRIu64 "\n", pos);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    int r = 0;
    errno = EIO;
    if (write(fd, buf, (size_t)len) != len || fsync(fd) < 0)
        r = -errno;
    if (close(fd) < 0 && r == 0)
        r = -errno;
    if (r == 0 && rename(tmp, path) < 0)
        r = -errno;
    if (r < 0)
        unlink(tmp);
    return r;
}

/* What FILE must say: everything up to it has been printed. */
static uint64_t s_position(const struct tail *t) {
    return t->n_holes ? t->holes[0].lo - 1 : t->last;
}

/* Saves the position if it moved and `force` or 200 ms have passed. Reports
 * a failure once (until a save succeeds again); 0 or negative errno. */
static int s_save(struct tail *t, uint64_t now, bool force) {
    uint64_t pos = s_position(t);
    if (pos == t->saved || (!force && now - t->saved_ms < TP_TAIL_SAVE_EVERY_MS))
        return 0;
    t->saved_ms = now;
    int r = s_store_position(t->o->durable, t->tmp_path, pos);
    if (r < 0 && r != t->save_err)
        fprintf(stderr, "tp-tail: cannot save position to '%s': %s\n", t->o->durable, strerror(-r));
    t->save_err = r;
    if (r == 0)
        t->saved = pos;
    return r;
}

/* ---- --durable: the Clone pattern --------------------------------------- */

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

static void s_missing(uint64_t lo, uint64_t hi) {
    fprintf(stderr, "tp-tail: alerts %" PRIu64 "..%" PRIu64 " are not in the replay "
            "(no longer journaled?)\n", lo, hi);
}

static void s_drop_held(struct tail *t) {
    for (size_t i = t->held_head; i < t->held_n; i++)
        free(t->held[i].line);
    t->held_head = t->held_n = 0;
}

/* Holds a live alert back until the running replay ends. When too many pile
 * up they are all dropped and the replay is simply repeated after END. */
static void s_hold(struct tail *t, uint64_t seq, char *line) {
    if (!t->again && t->held_n - t->held_head == TP_TAIL_MAX_HELD) {
        fprintf(stderr, "tp-tail: more than %d live alerts during a replay; replaying again\n",
                TP_TAIL_MAX_HELD);
        s_drop_held(t);
        t->again = true;
    }
    if (!t->again && t->held_n == t->held_cap && t->held_head > 0) {
        memmove(t->held, t->held + t->held_head, (t->held_n - t->held_head) * sizeof *t->held);
        t->held_n -= t->held_head;
        t->held_head = 0;
    }
    if (!t->again && t->held_n == t->held_cap) {
        size_t cap = t->held_cap ? t->held_cap * 2 : 256;
        struct held *h = realloc(t->held, cap * sizeof *h);
        if (!h) {
            s_drop_held(t);
            t->again = true;
        } else {
            t->held = h;
            t->held_cap = cap;
        }
    }
    if (t->again) {
        free(line);
        return;
    }
    t->held[t->held_n++] = (struct held){ seq, line };
}

static void s_replay_failed(struct tail *t, uint64_t now, const char *why);

/* Sends ["REPLAY", position], opening the DEALER if needed. */
static void s_start_replay(struct tail *t, uint64_t now) {
    char pos[24];
    int len = snprintf(pos, sizeof pos, "%" PRIu64, s_position(t));
    int linger = 0, hwm = 0;
    if (!t->dealer) {
        t->dealer = zmq_socket(t->ctx, ZMQ_DEALER);
        if (!t->dealer || zmq_setsockopt(t->dealer, ZMQ_LINGER, &linger, sizeof linger) < 0 ||
            zmq_setsockopt(t->dealer, ZMQ_RCVHWM, &hwm, sizeof hwm) < 0 ||
            zmq_connect(t->dealer, t->o->replay_endpoint) < 0) {
            s_replay_failed(t, now, zmq_strerror(zmq_errno()));
            return;
        }
    }
    if (zmq_send(t->dealer, "REPLAY", 6, ZMQ_SNDMORE | ZMQ_DONTWAIT) != 6 ||
        zmq_send(t->dealer, pos, (size_t)len, ZMQ_DONTWAIT) != len) {
        s_replay_failed(t, now, zmq_strerror(zmq_errno()));
        return;
    }
    t->replaying = true;
    t->again = false;
    t->round_start = t->last;
    t->deadline_ms = now + t->o->replay_timeout_ms;
}

/* A live alert, or a held one once no replay runs: print it if it is the
 * next one; drop a duplicate; on a gap, hold it and replay (or, with the
 * replay endpoint down, remember the gap as a hole and print it). */
static void s_live(struct tail *t, uint64_t seq, char *line, uint64_t now) {
    if (seq <= t->last) {
        free(line);
    } else if (t->replaying || (seq > t->last + 1 && !t->down)) {
        s_hold(t, seq, line);
        if (!t->replaying)
            s_start_replay(t, now);
    } else {
        if (seq > t->last + 1) {
            if (t->n_holes == TP_TAIL_MAX_HOLES)       /* merged: reprints some, loses none */
                t->holes[TP_TAIL_MAX_HOLES - 1].hi = seq - 1;
            else
                t->holes[t->n_holes++] = (struct span){ t->last + 1, seq - 1 };
        }
        s_emit(t, line);
        t->last = seq;
    }
}

/* Processes held alerts in order until one needs a replay. */
static void s_flush(struct tail *t, uint64_t now) {
    while (t->held_head < t->held_n && !t->replaying && !s_done(t)) {
        struct held h = t->held[t->held_head];
        if (h.seq > t->last + 1 && !t->down) {
            s_start_replay(t, now);         /* stays first in line */
            continue;
        }
        t->held_head++;
        s_live(t, h.seq, h.line, now);
    }
    if (t->held_head == t->held_n)
        t->held_head = t->held_n = 0;
}

/* The replay endpoint did not answer, refused or could not be reached:
 * forget the DEALER (and any late answer), print live alerts only, and try
 * again in 5 s. Reported once per outage. */
static void s_replay_failed(struct tail *t, uint64_t now, const char *why) {
    if (!t->down)
        fprintf(stderr, "tp-tail: replay from '%s' failed: %s; printing live alerts only, "
                "retrying every %d s\n", t->o->replay_endpoint, why, TP_TAIL_RETRY_MS / 1000);
    if (t->dealer)
        zmq_close(t->dealer);
    t->dealer = NULL;
    t->replaying = t->again = false;
    t->down = true;
    t->retry_ms = now + TP_TAIL_RETRY_MS;
    t->active_ms = now;
    s_flush(t, now);
}

/* One replayed alert: fills a hole, or continues after `last`. */
static void s_replayed(struct tail *t, uint64_t seq, char *line) {
    while (t->n_holes && t->holes[0].hi < seq) {
        s_missing(t->holes[0].lo, t->holes[0].hi);
        memmove(t->holes, t->holes + 1, --t->n_holes * sizeof *t->holes);
    }
    if (t->n_holes && t->holes[0].lo <= seq) {
        if (t->holes[0].lo < seq)
            s_missing(t->holes[0].lo, seq - 1);
        if ((t->holes[0].lo = seq + 1) > t->holes[0].hi)
            memmove(t->holes, t->holes + 1, --t->n_holes * sizeof *t->holes);
        s_emit(t, line);
    } else if (seq <= t->last) {
        free(line);
    } else {
        if (seq > t->last + 1)
            s_missing(t->last + 1, seq - 1);
        s_emit(t, line);
        t->last = seq;
    }
}

/* ["END", n]: the replay is complete up to n. */
static void s_end(struct tail *t, uint64_t n, uint64_t now) {
    t->replaying = false;
    t->active_ms = now;
    while (t->n_holes && t->holes[0].lo <= n) {
        uint64_t hi = t->holes[0].hi < n ? t->holes[0].hi : n;
        s_missing(t->holes[0].lo, hi);
        if ((t->holes[0].lo = hi + 1) > t->holes[0].hi)
            memmove(t->holes, t->holes + 1, --t->n_holes * sizeof *t->holes);
    }
    if (n > t->last) {
        if (t->last == t->round_start) {
            s_replay_failed(t, now, "END claims alerts it did not send");
            return;
        }
        fprintf(stderr, "tp-tail: replay ended at %" PRIu64 " but only %" PRIu64
                " arrived; replaying again\n", n, t->last);
        t->again = true;
    }
    bool again = t->again;
    t->again = false;
    s_flush(t, now);
    if (again && !t->replaying && !t->down)
        s_start_replay(t, now);
}

static bool s_frame_is(zmq_msg_t *m, const char *s) {
    return zmq_msg_size(m) == strlen(s) && memcmp(zmq_msg_data(m), s, strlen(s)) == 0;
}

/* The endpoint answers a replay: gaps are replayed again, not kept as holes. */
static void s_up(struct tail *t) {
    if (t->down)
        fprintf(stderr, "tp-tail: replay from '%s' works again\n", t->o->replay_endpoint);
    t->down = false;
}

/* One message from the replay DEALER: an alert, END or ERROR. */
static int s_on_replay(struct tail *t, zmq_msg_t frames[2], size_t n_frames, uint64_t now) {
    char why[256] = "", num[24];
    t->deadline_ms = now + t->o->replay_timeout_ms;     /* it is answering */
    if (!t->replaying) {
        snprintf(why, sizeof why, "replay message outside a replay");
    } else if (n_frames == 2 && s_frame_is(&frames[0], "ERROR")) {
        snprintf(why, sizeof why, "ERROR %.*s", (int)(zmq_msg_size(&frames[1]) > 200 ? 200 :
                 zmq_msg_size(&frames[1])), (const char *)zmq_msg_data(&frames[1]));
        s_replay_failed(t, now, why);
        return 0;
    } else if (n_frames == 2 && s_frame_is(&frames[0], "END")) {
        uint64_t n;
        size_t len = zmq_msg_size(&frames[1]);
        if (len < sizeof num) {
            memcpy(num, zmq_msg_data(&frames[1]), len);
            num[len] = '\0';
        }
        if (len < sizeof num && strlen(num) == len && tp_cli_parse_u64(num, &n) == 0) {
            s_up(t);
            s_end(t, n, now);
            return 0;
        }
        snprintf(why, sizeof why, "END without a sequence number");
    } else {
        uint64_t seq;
        char *line = NULL;
        int r = s_decode(t->o, frames, n_frames, why, sizeof why, &seq, &line);
        if (r == 0) {
            s_up(t);
            s_replayed(t, seq, line);
        }
        if (r != -EBADMSG)
            return r;
    }
    fprintf(stderr, "tp-tail: skipped malformed replay message: %s\n", why);
    t->malformed++;
    return 0;
}

/* ---- main loop ----------------------------------------------------------- */

static long s_min_wait(long wait, uint64_t at, uint64_t now) {
    if (at <= now)
        return 0;
    return at - now < (uint64_t)wait ? (long)(at - now) : wait;
}

/* Receives one message from `sock` and handles it; 0 or negative errno
 * (fatal, reported). */
static int s_on_readable(struct tail *t, void *sock, uint64_t now) {
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
    bool replay = sock == t->dealer;    /* the DEALER may be gone after this message */
    if (replay)
        r = s_on_replay(t, frames, n_frames, now);
    else
        r = s_decode(t->o, frames, n_frames, why, sizeof why, &seq, &line);
    for (size_t i = 0; i < n_frames && i < 2; i++)
        zmq_msg_close(&frames[i]);
    if (r == -EBADMSG) {
        fprintf(stderr, "tp-tail: skipped malformed message: %s\n", why);
        t->malformed++;
        return 0;
    }
    if (r < 0) {
        fprintf(stderr, "tp-tail: %s\n", strerror(-r));
        return r;
    }
    if (replay)
        return 0;
    if (t->o->durable)
        s_live(t, seq, line, now);
    else
        s_emit(t, line);
    return 0;
}

static int s_run(struct tail *t, void *sub) {
    const struct tail_opts *o = t->o;
    t->active_ms = s_now_ms();
    if (o->durable)
        s_start_replay(t, t->active_ms);
    while (!s_stop && !s_done(t)) {
        uint64_t now = s_now_ms();
        long wait = TP_TAIL_POLL_SLICE_MS;
        if (o->durable) {
            if (t->replaying && now >= t->deadline_ms) {
                char why[64];
                snprintf(why, sizeof why, "no answer within %" PRIu64 " ms", o->replay_timeout_ms);
                s_replay_failed(t, now, why);
            }
            if (t->down && !t->replaying && now >= t->retry_ms)
                s_start_replay(t, now);
            s_save(t, now, false);
            if (t->replaying)
                wait = s_min_wait(wait, t->deadline_ms, now);
            else if (t->down)
                wait = s_min_wait(wait, t->retry_ms, now);
            if (s_position(t) != t->saved)
                wait = s_min_wait(wait, t->saved_ms + TP_TAIL_SAVE_EVERY_MS, now);
        }
        if (o->timeout_ms > 0 && !t->replaying) {
            if (now - t->active_ms >= o->timeout_ms)
                break;
            wait = s_min_wait(wait, t->active_ms + o->timeout_ms, now);
        }
        zmq_pollitem_t items[2] = { { .socket = sub, .events = ZMQ_POLLIN },
                                    { .socket = t->dealer, .events = ZMQ_POLLIN } };
        int n = zmq_poll(items, t->dealer ? 2 : 1, wait);
        if (n < 0 && zmq_errno() == EINTR)
            continue;
        if (n < 0) {
            fprintf(stderr, "tp-tail: zmq_poll: %s\n", zmq_strerror(zmq_errno()));
            return -EIO;
        }
        int r = 0;
        if (t->dealer && (items[1].revents & ZMQ_POLLIN))
            r = s_on_readable(t, t->dealer, now);
        if (r == 0 && (items[0].revents & ZMQ_POLLIN) && !s_done(t))
            r = s_on_readable(t, sub, now);
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
        r = s_load_position(o.durable, &t.last);
        if (r < 0) {
            fprintf(stderr, "tp-tail: cannot use '%s': %s\n", o.durable,
                    r == -EBADMSG ? "not a decimal sequence number" : strerror(-r));
            return EXIT_USAGE;
        }
        t.saved = t.last;
        if (asprintf(&t.tmp_path, "%s.tmp", o.durable) < 0) {
            fputs("tp-tail: out of memory\n", stderr);
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
        free(t.tmp_path);
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
    if (o.durable && s_save(&t, s_now_ms(), true) < 0)
        status = EXIT_USAGE;
    fprintf(stderr, "tp-tail: alerts %" PRIu64 ", malformed %" PRIu64 "\n", t.alerts, t.malformed);
out:
    s_drop_held(&t);
    free(t.held);
    free(t.tmp_path);
    if (t.dealer)
        zmq_close(t.dealer);
    if (sock)
        zmq_close(sock);
    zmq_ctx_term(t.ctx);
    return status;
}
