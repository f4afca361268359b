/* tp_tail_durable — tp-tail's --durable mode; see tp_tail_durable.h.
 *
 * `last` is the highest sequence emitted (printed or filtered out). A live
 * alert right after it is emitted; a later one means a gap: it is held and
 * a REPLAY from the position is sent; live alerts keep being held until the
 * replay's END, then the held ones are processed in order, duplicates
 * dropped. While the replay endpoint is down, gaps become holes: live
 * alerts go on being emitted, FILE stays before the first hole, and the
 * holes are filled late (out of order) once the endpoint answers again.
 */
#include "tp_tail_durable.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tp_cli.h"

#define TP_TAIL_SAVE_EVERY_MS 200    /* at most this much is printed twice after a crash */
#define TP_TAIL_RETRY_MS      5000   /* replay retry period while the endpoint is down */
#define TP_TAIL_MAX_HELD      100000 /* live alerts held back during one replay */
#define TP_TAIL_MAX_HOLES     64     /* distinct gaps remembered while replay is down */

struct span {
    uint64_t lo, hi;
}; /* sequences lo..hi, never printed */
struct held {
    uint64_t seq;
    char    *line;
}; /* a held-back live alert; line NULL = filtered */

struct tp_tail_durable {
    struct tp_tail_durable_config cfg;      /* copied; strings borrowed */
    void                         *ctx;      /* borrowed, from tp_tail_durable_start */
    char                         *tmp_path; /* FILE.tmp */
    void                         *dealer;   /* replay socket, NULL while the endpoint is down */
    uint64_t                      last;     /* highest sequence printed or filtered out */
    struct span  holes[TP_TAIL_MAX_HOLES];  /* gaps passed over while down, ascending */
    size_t       n_holes;
    struct held *held;                        /* live alerts held during a replay, FIFO */
    size_t       held_head, held_n, held_cap; /* entries [held_head, held_n) are live */
    bool         replaying;                   /* REPLAY sent, END not yet received */
    bool         again;                       /* replay again after END (held ones dropped) */
    bool         down;                        /* replay endpoint failed: gaps become holes */
    uint64_t     round_start;                 /* `last` when the REPLAY was sent */
    uint64_t     deadline_ms;                 /* replaying: give up if silent until then */
    uint64_t     retry_ms;                    /* down: next attempt */
    uint64_t     settled_ms;                  /* last END or failure, for --timeout-ms */
    uint64_t     saved, saved_ms;             /* position in FILE and when it was written */
    uint64_t     loaded;                      /* FILE at start; from_zero: never below it */
    int          save_err;                    /* last save error reported (report once) */
};

/* ---- position file ------------------------------------------------------- */

/* Reads the sequence saved in `path` into *ret (0 when there is no file
 * yet). -EBADMSG unless the file is one decimal number and an optional
 * newline; other negative errno on I/O errors. */
static int s_load_position(const char *path, uint64_t *ret) {
    char buf[32];
    int  fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        *ret = 0;
        return 0;
    }
    if (fd < 0)
        return -errno;
    ssize_t got = read(fd, buf, sizeof buf - 1);
    int     saved = errno;
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
    int  len = snprintf(buf, sizeof buf, "%" PRIu64 "\n", pos);
    int  fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
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

/* Where a replay starts: everything up to it has been emitted. */
static uint64_t s_position(const tp_tail_durable_t *d) {
    return d->n_holes ? d->holes[0].lo - 1 : d->last;
}

/* What FILE must say: everything up to it has been emitted and delivered. */
static uint64_t s_file_position(const tp_tail_durable_t *d) {
    uint64_t pos = s_position(d);
    uint64_t floor = d->cfg.floor ? d->cfg.floor(d->cfg.userdata) : UINT64_MAX;
    pos = floor <= pos ? floor - 1 : pos;
    return d->cfg.from_zero && pos < d->loaded ? d->loaded : pos; /* catching up from 0 */
}

/* Saves the position if it moved and `force` or 200 ms have passed. Reports
 * a failure once (until a save succeeds again); 0 or negative errno. */
static int s_save(tp_tail_durable_t *d, uint64_t now, bool force) {
    uint64_t pos = s_file_position(d);
    if (pos == d->saved || (!force && now - d->saved_ms < TP_TAIL_SAVE_EVERY_MS))
        return 0;
    d->saved_ms = now;
    int r = s_store_position(d->cfg.path, d->tmp_path, pos);
    if (r < 0 && r != d->save_err)
        fprintf(stderr, "tp-tail: cannot save position to '%s': %s\n", d->cfg.path, strerror(-r));
    d->save_err = r;
    if (r == 0)
        d->saved = pos;
    return r;
}

/* ---- the Clone pattern --------------------------------------------------- */

static void s_missing(uint64_t lo, uint64_t hi) {
    fprintf(stderr,
            "tp-tail: alerts %" PRIu64 "..%" PRIu64 " are not in the replay "
            "(no longer journaled?)\n",
            lo, hi);
}

static void s_drop_held(tp_tail_durable_t *d) {
    for (size_t i = d->held_head; i < d->held_n; i++)
        free(d->held[i].line);
    d->held_head = d->held_n = 0;
}

/* Holds a live alert back until the running replay ends. When too many pile
 * up they are all dropped and the replay is simply repeated after END. */
static void s_hold(tp_tail_durable_t *d, uint64_t seq, char *line) {
    if (!d->again && d->held_n - d->held_head == TP_TAIL_MAX_HELD) {
        fprintf(stderr, "tp-tail: more than %d live alerts during a replay; replaying again\n",
                TP_TAIL_MAX_HELD);
        s_drop_held(d);
        d->again = true;
    }
    if (!d->again && d->held_n == d->held_cap && d->held_head > 0) {
        memmove(d->held, d->held + d->held_head, (d->held_n - d->held_head) * sizeof *d->held);
        d->held_n -= d->held_head;
        d->held_head = 0;
    }
    if (!d->again && d->held_n == d->held_cap) {
        size_t       cap = d->held_cap ? d->held_cap * 2 : 256;
        struct held *h = realloc(d->held, cap * sizeof *h);
        if (!h) {
            s_drop_held(d);
            d->again = true;
        } else {
            d->held = h;
            d->held_cap = cap;
        }
    }
    if (d->again) {
        free(line);
        return;
    }
    d->held[d->held_n++] = (struct held){ seq, line };
}

static void s_replay_failed(tp_tail_durable_t *d, uint64_t now, const char *why);

/* Sends ["REPLAY", position], opening the DEALER if needed. */
static void s_start_replay(tp_tail_durable_t *d, uint64_t now) {
    char pos[24];
    int  len = snprintf(pos, sizeof pos, "%" PRIu64, s_position(d));
    int  linger = 0, hwm = 0;
    if (!d->dealer) {
        d->dealer = zmq_socket(d->ctx, ZMQ_DEALER);
        if (!d->dealer || zmq_setsockopt(d->dealer, ZMQ_LINGER, &linger, sizeof linger) < 0 ||
            zmq_setsockopt(d->dealer, ZMQ_RCVHWM, &hwm, sizeof hwm) < 0 ||
            tp_curve_client_apply(d->cfg.curve, d->dealer) < 0 ||
            zmq_connect(d->dealer, d->cfg.replay_endpoint) < 0) {
            s_replay_failed(d, now, zmq_strerror(zmq_errno()));
            return;
        }
    }
    if (zmq_send(d->dealer, "REPLAY", 6, ZMQ_SNDMORE | ZMQ_DONTWAIT) != 6 ||
        zmq_send(d->dealer, pos, (size_t)len, ZMQ_DONTWAIT) != len) {
        s_replay_failed(d, now, zmq_strerror(zmq_errno()));
        return;
    }
    d->replaying = true;
    d->again = false;
    d->round_start = d->last;
    d->deadline_ms = now + d->cfg.replay_timeout_ms;
}

/* A live alert, or a held one once no replay runs: emit it if it is the
 * next one; drop a duplicate; on a gap, hold it and replay (or, with the
 * replay endpoint down, remember the gap as a hole and emit it). */
static void s_live(tp_tail_durable_t *d, uint64_t seq, char *line, uint64_t now) {
    if (seq <= d->last) {
        free(line);
    } else if (d->replaying || (seq > d->last + 1 && !d->down)) {
        s_hold(d, seq, line);
        if (!d->replaying)
            s_start_replay(d, now);
    } else {
        if (seq > d->last + 1) {
            if (d->n_holes == TP_TAIL_MAX_HOLES) /* merged: reprints some, loses none */
                d->holes[TP_TAIL_MAX_HOLES - 1].hi = seq - 1;
            else
                d->holes[d->n_holes++] = (struct span){ d->last + 1, seq - 1 };
        }
        d->cfg.emit(d->cfg.userdata, seq, line);
        d->last = seq;
    }
}

/* Processes held alerts in order until one needs a replay. */
static void s_flush(tp_tail_durable_t *d, uint64_t now) {
    while (d->held_head < d->held_n && !d->replaying && !d->cfg.done(d->cfg.userdata)) {
        struct held h = d->held[d->held_head];
        if (h.seq > d->last + 1 && !d->down) {
            s_start_replay(d, now); /* stays first in line */
            continue;
        }
        d->held_head++;
        s_live(d, h.seq, h.line, now);
    }
    if (d->held_head == d->held_n)
        d->held_head = d->held_n = 0;
}

/* The replay endpoint did not answer, refused or could not be reached:
 * forget the DEALER (and any late answer), emit live alerts only, and try
 * again in 5 s. Reported once per outage. */
static void s_replay_failed(tp_tail_durable_t *d, uint64_t now, const char *why) {
    if (!d->down)
        fprintf(stderr,
                "tp-tail: replay from '%s' failed: %s; printing live alerts only, "
                "retrying every %d s\n",
                d->cfg.replay_endpoint, why, TP_TAIL_RETRY_MS / 1000);
    if (d->dealer)
        zmq_close(d->dealer);
    d->dealer = NULL;
    d->replaying = d->again = false;
    d->down = true;
    d->retry_ms = now + TP_TAIL_RETRY_MS;
    d->settled_ms = now;
    s_flush(d, now);
}

/* One replayed alert: fills a hole, or continues after `last`. */
static void s_replayed(tp_tail_durable_t *d, uint64_t seq, char *line) {
    while (d->n_holes && d->holes[0].hi < seq) {
        s_missing(d->holes[0].lo, d->holes[0].hi);
        memmove(d->holes, d->holes + 1, --d->n_holes * sizeof *d->holes);
    }
    if (d->n_holes && d->holes[0].lo <= seq) {
        if (d->holes[0].lo < seq)
            s_missing(d->holes[0].lo, seq - 1);
        if ((d->holes[0].lo = seq + 1) > d->holes[0].hi)
            memmove(d->holes, d->holes + 1, --d->n_holes * sizeof *d->holes);
        d->cfg.emit(d->cfg.userdata, seq, line);
    } else if (seq <= d->last) {
        free(line);
    } else {
        if (seq > d->last + 1)
            s_missing(d->last + 1, seq - 1);
        d->cfg.emit(d->cfg.userdata, seq, line);
        d->last = seq;
    }
}

/* ["END", n]: the replay is complete up to n. */
static void s_end(tp_tail_durable_t *d, uint64_t n, uint64_t now) {
    d->replaying = false;
    d->settled_ms = now;
    while (d->n_holes && d->holes[0].lo <= n) {
        uint64_t hi = d->holes[0].hi < n ? d->holes[0].hi : n;
        s_missing(d->holes[0].lo, hi);
        if ((d->holes[0].lo = hi + 1) > d->holes[0].hi)
            memmove(d->holes, d->holes + 1, --d->n_holes * sizeof *d->holes);
    }
    if (n > d->last) {
        if (d->last == d->round_start) {
            s_replay_failed(d, now, "END claims alerts it did not send");
            return;
        }
        fprintf(stderr,
                "tp-tail: replay ended at %" PRIu64 " but only %" PRIu64
                " arrived; replaying again\n",
                n, d->last);
        d->again = true;
    }
    bool again = d->again;
    d->again = false;
    s_flush(d, now);
    if (again && !d->replaying && !d->down)
        s_start_replay(d, now);
}

static bool s_frame_is(zmq_msg_t *m, const char *s) {
    return zmq_msg_size(m) == strlen(s) && memcmp(zmq_msg_data(m), s, strlen(s)) == 0;
}

/* The endpoint answers a replay: gaps are replayed again, not kept as holes. */
static void s_up(tp_tail_durable_t *d) {
    if (d->down)
        fprintf(stderr, "tp-tail: replay from '%s' works again\n", d->cfg.replay_endpoint);
    d->down = false;
}

/* ---- public interface ---------------------------------------------------- */

int tp_tail_durable_new(const struct tp_tail_durable_config *cfg, tp_tail_durable_t **ret) {
    uint64_t last;
    int      r = s_load_position(cfg->path, &last);
    if (r < 0)
        return r;
    tp_tail_durable_t *d = calloc(1, sizeof *d);
    if (!d)
        return -ENOMEM;
    if (asprintf(&d->tmp_path, "%s.tmp", cfg->path) < 0) {
        free(d);
        return -ENOMEM;
    }
    d->cfg = *cfg;
    d->last = d->saved = d->loaded = last;
    if (cfg->from_zero)
        d->last = 0;
    *ret = d;
    return 0;
}

uint64_t tp_tail_durable_loaded(const tp_tail_durable_t *d) {
    return d->loaded;
}

void tp_tail_durable_destroy(tp_tail_durable_t **p) {
    tp_tail_durable_t *d = p ? *p : NULL;
    if (!d)
        return;
    s_drop_held(d);
    free(d->held);
    free(d->tmp_path);
    if (d->dealer)
        zmq_close(d->dealer);
    free(d);
    *p = NULL;
}

void tp_tail_durable_start(tp_tail_durable_t *d, void *zmq_ctx, uint64_t now) {
    d->ctx = zmq_ctx;
    s_start_replay(d, now);
}

void *tp_tail_durable_socket(const tp_tail_durable_t *d) {
    return d->dealer;
}

uint64_t tp_tail_durable_tick(tp_tail_durable_t *d, uint64_t now) {
    if (d->replaying && now >= d->deadline_ms) {
        char why[64];
        snprintf(why, sizeof why, "no answer within %" PRIu64 " ms", d->cfg.replay_timeout_ms);
        s_replay_failed(d, now, why);
    }
    if (d->down && !d->replaying && now >= d->retry_ms)
        s_start_replay(d, now);
    s_save(d, now, false);
    uint64_t next = UINT64_MAX;
    if (d->replaying)
        next = d->deadline_ms;
    else if (d->down)
        next = d->retry_ms;
    if (s_file_position(d) != d->saved && d->saved_ms + TP_TAIL_SAVE_EVERY_MS < next)
        next = d->saved_ms + TP_TAIL_SAVE_EVERY_MS;
    return next;
}

bool tp_tail_durable_replaying(const tp_tail_durable_t *d) {
    return d->replaying;
}

uint64_t tp_tail_durable_settled_ms(const tp_tail_durable_t *d) {
    return d->settled_ms;
}

void tp_tail_durable_on_live(tp_tail_durable_t *d, uint64_t seq, char *line, uint64_t now) {
    s_live(d, seq, line, now);
}

int tp_tail_durable_on_replay(tp_tail_durable_t *d, zmq_msg_t frames[2], size_t n_frames,
                              uint64_t now, char *why, size_t whylen) {
    char num[24];
    d->deadline_ms = now + d->cfg.replay_timeout_ms; /* it is answering */
    if (!d->replaying) {
        snprintf(why, whylen, "replay message outside a replay");
        return -EBADMSG;
    }
    if (n_frames == 2 && s_frame_is(&frames[0], "ERROR")) {
        char reason[256];
        snprintf(reason, sizeof reason, "ERROR %.*s",
                 (int)(zmq_msg_size(&frames[1]) > 200 ? 200 : zmq_msg_size(&frames[1])),
                 (const char *)zmq_msg_data(&frames[1]));
        s_replay_failed(d, now, reason);
        return 0;
    }
    if (n_frames == 2 && s_frame_is(&frames[0], "END")) {
        uint64_t n;
        size_t   len = zmq_msg_size(&frames[1]);
        if (len < sizeof num) {
            memcpy(num, zmq_msg_data(&frames[1]), len);
            num[len] = '\0';
        }
        if (len < sizeof num && strlen(num) == len && tp_cli_parse_u64(num, &n) == 0) {
            s_up(d);
            s_end(d, n, now);
            return 0;
        }
        snprintf(why, whylen, "END without a sequence number");
        return -EBADMSG;
    }
    uint64_t seq;
    char    *line = NULL;
    int      r = d->cfg.decode(d->cfg.userdata, frames, n_frames, why, whylen, &seq, &line);
    if (r == 0) {
        s_up(d);
        s_replayed(d, seq, line);
    }
    return r;
}

void tp_tail_durable_defer(tp_tail_durable_t *d, uint64_t now) {
    if (d->replaying && d->deadline_ms < now + d->cfg.replay_timeout_ms)
        d->deadline_ms = now + d->cfg.replay_timeout_ms;
}

int tp_tail_durable_save(tp_tail_durable_t *d, uint64_t now) {
    return s_save(d, now, true);
}
