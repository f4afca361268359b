/* tp_pub — what tp-pub's modes share: the options, the one input reader
 * every mode reads through, pacing, and the run function of each mode.
 *
 * main() (tp_pub.c) parses the options (tp_pub_opts.c), opens the input and
 * hands it to one run function: XPUB (tp_pub_xpub.c, also --dry-run),
 * --reliable (tp_pub_reliable.c) or --nats (tp_pub_nats.c). Each run
 * function pulls validated, packed events from tp_pub_next(), which reports
 * and counts the bad lines the same way for all of them, sends them its own
 * way, prints its summary line and returns the exit status.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "tp_curve_key.h"
#include "tp_input.h"

#define TP_PUB_DEFAULT_ENDPOINT  "tcp://127.0.0.1:7601"
#define TP_PUB_RELIABLE_ENDPOINT "tcp://127.0.0.1:7603" /* touchpointd's reliable_input */

/* Why --reliable needs an eventId on every line (tp_pub_next's id_why). */
#define TP_PUB_RELIABLE_ID_WHY "--reliable needs one, acknowledgements name it"
#define TP_PUB_NATS_ID_WHY     "--nats needs one, it is the Nats-Msg-Id"

enum { TP_PUB_EXIT_BAD_LINES = 1, TP_PUB_EXIT_USAGE = 2 };

struct tp_pub_opts {
    const char       *endpoint;       /* where to publish */
    bool              bind;           /* bind instead of connect */
    uint64_t          rate;           /* events per second, 0 = unpaced */
    uint64_t          count;          /* stop after this many events, 0 = all */
    bool              stop_on_error;  /* stop at the first bad line */
    uint64_t          wait_ms;        /* XPUB: wait for a subscriber; reliable: for answers */
    const char       *file;           /* input path, "-" = stdin */
    bool              reliable;       /* reliable ingest (DEALER, ACKs) instead of XPUB */
    uint64_t          window;         /* reliable: most unacknowledged events */
    uint64_t          ack_timeout_ms; /* reliable: first resend after this long */
    tp_curve_client_t curve;          /* --curve-*: CURVE client, or plain */
    const char       *map;            /* --map: mapping file for a CRM export, or NULL */
    bool              dry_run;        /* print the Envelopes as JSON lines, send nothing */
    const char       *nats;           /* --nats: NATS URL, publish to JetStream; NULL = ZeroMQ */
    uint64_t          partitions;     /* --partitions: nats.partition_count of the daemons */
};

/* One run of a mode: the options, the input, what the reader counted. */
struct tp_pub_run {
    const struct tp_pub_opts *o;
    tp_input_t               *input;
    struct tp_pub_ahead      *ahead;  /* set: events come from here, decoded ahead */
    const char               *name;   /* FILE as named in messages ("<stdin>") */
    uint64_t                  taken;  /* good events handed out (--count) */
    uint64_t                  bad;    /* bad lines so far (each reported) */
    int                       status; /* TP_PUB_EXIT_USAGE once something failed, else 0 */
};

/* One good line: validated and packed. */
struct tp_pub_event {
    ProtobufCMessage *env;   /* the Envelope, owned */
    const char       *topic; /* static, from tp_topic_for_payload */
    uint8_t          *buf;   /* the packed Envelope, owned */
    size_t            len;
    size_t            lineno; /* the physical input line it came from */
};

/* Parses the command line into *ret. 0 to run, 1 when --help/--version
 * was handled, -EINVAL on a usage error (reported on stderr). */
int tp_pub_parse_args(int argc, char **argv, struct tp_pub_opts *ret);

/* The next good event of the input in *ret (tp_pub_event_clear frees it).
 * A bad line (not an Envelope, no payload, no eventId where `id_why` says
 * why one is needed) is reported as "tp-pub: FILE:LINE: reason", counted in
 * run->bad and skipped, or ends the input with --stop-on-error. After
 * --count events the input ends too: every mode sends each event it takes
 * or stops. 1: an event; 0: the end of the input; -errno: the input failed
 * (reported, run->status set). */
int tp_pub_next(struct tp_pub_run *run, const char *id_why, struct tp_pub_event *ret);

/* The exit status of a finished run: run->status if something failed,
 * else 1 if there were bad lines or `incomplete` (events refused or not
 * acknowledged), else 0. */
int tp_pub_exit_status(const struct tp_pub_run *run, bool incomplete);

/* Validates msg (an Envelope, taken: freed on failure) and packs it into
 * *ret: a payload, and an eventId when id_why says why one is needed. 0, or
 * -EINVAL with a reason in err, or -ENOMEM. */
int tp_pub_pack(ProtobufCMessage *msg, const char *id_why, size_t lineno, char *err, size_t errlen,
                struct tp_pub_event *ret);

/* Frees what ev owns and zeroes it. */
void tp_pub_event_clear(struct tp_pub_event *ev);

/* When event number `seq` (0 = the first, which sets *start_ns) may go out
 * at `rate` per second, in CLOCK_MONOTONIC ns: absolute deadlines, so that
 * time spent parsing and sending does not slow the average rate. 0 when
 * unpaced. */
uint64_t tp_pub_pace_at(uint64_t *start_ns, uint64_t rate, uint64_t seq);

/* Sleeps until CLOCK_MONOTONIC reaches at_ns (0: does not sleep). */
void tp_pub_sleep_until(uint64_t at_ns);

/* The modes: each reads run->input to its end (or --count), prints its
 * summary line on stderr and returns the exit status (0, 1 or 2). */
int tp_pub_run_xpub(struct tp_pub_run *run);
int tp_pub_run_dry(struct tp_pub_run *run);
int tp_pub_run_reliable(struct tp_pub_run *run);
int tp_pub_run_nats(struct tp_pub_run *run);
