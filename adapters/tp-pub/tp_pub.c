/* tp-pub — the kcat of touchpointd: publishes JSON lines as bus events.
 *
 * Each input line is one proto3 JSON touchpoint.v1.Envelope (or, with
 * --map, one row of a CRM export); it goes out as the two frames of the
 * wire contract, [topic, serialised Envelope], with the topic chosen from
 * the payload by tp_topic_for_payload().
 *
 * This file is main() and what every mode shares (tp_pub.h): the reader
 * that validates, packs and reports bad lines, and pacing. The modes are
 * tp_pub_xpub.c (plain XPUB, and --dry-run), tp_pub_reliable.c (--reliable:
 * DEALER, window, ACKs) and tp_pub_nats.c (--nats: JetStream); the options
 * and the help text are tp_pub_opts.c.
 */
#include "tp_pub.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tp_contract.h"
#include "tp_map.h"
#include "tp_pub_ahead.h"

#define TP_PUB_MAX_LINE (1024 * 1024) /* longer lines are bad lines */

int tp_pub_pack(ProtobufCMessage *msg, const char *id_why, size_t lineno, char *err, size_t errlen,
                struct tp_pub_event *ret) {
    const Touchpoint__V1__Envelope *env = (const Touchpoint__V1__Envelope *)msg;
    const char                     *topic = tp_topic_for_payload(env->payload_case);
    uint8_t                        *buf = NULL;
    int                             r = -EINVAL;
    if (!topic)
        snprintf(err, errlen,
                 "no payload: one of call, contracting, feedback, watermark is required");
    else if (id_why && (!env->event_id || !*env->event_id))
        snprintf(err, errlen, "no eventId: %s", id_why);
    else if (!(buf = malloc(protobuf_c_message_get_packed_size(msg) + 1)))
        r = -ENOMEM;
    else {
        *ret = (struct tp_pub_event){ .env = msg,
                                      .topic = topic,
                                      .buf = buf,
                                      .len = protobuf_c_message_pack(msg, buf),
                                      .lineno = lineno };
        return 0;
    }
    protobuf_c_message_free_unpacked(msg, NULL);
    return r;
}

int tp_pub_next(struct tp_pub_run *run, const char *id_why, struct tp_pub_event *ret) {
    char err[512];
    if (run->o->count > 0 && run->taken >= run->o->count)
        return 0;
    for (;;) {
        ProtobufCMessage *msg = NULL;
        size_t            lineno = 0;
        err[0] = '\0';
        int r = run->ahead ? tp_pub_ahead_next(run->ahead, ret, &lineno, err, sizeof err)
                           : tp_input_next(run->input, &msg, &lineno, err, sizeof err);
        if (r == 0)
            return 0;
        if (r > 0 &&
            (run->ahead || (r = tp_pub_pack(msg, id_why, lineno, err, sizeof err, ret)) == 0)) {
            run->taken++;
            return 1;
        }
        if (r == -EINVAL) {
            fprintf(stderr, "tp-pub: %s:%zu: %s\n", run->name, lineno, err);
            run->bad++;
            if (run->o->stop_on_error)
                return 0;
            continue;
        }
        /* A CSV header the mapping cannot use, or the input failed. */
        if (*err)
            fprintf(stderr, "tp-pub: %s: %s\n", run->name, err);
        else
            fprintf(stderr, "tp-pub: reading '%s': %s\n", run->name, strerror(-r));
        run->status = TP_PUB_EXIT_USAGE;
        return r;
    }
}

int tp_pub_exit_status(const struct tp_pub_run *run, bool incomplete) {
    if (run->status != 0)
        return run->status;
    return run->bad > 0 || incomplete ? TP_PUB_EXIT_BAD_LINES : 0;
}

void tp_pub_event_clear(struct tp_pub_event *ev) {
    if (ev->env)
        protobuf_c_message_free_unpacked(ev->env, NULL);
    free(ev->buf);
    *ev = (struct tp_pub_event){ 0 };
}

static uint64_t s_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t tp_pub_pace_at(uint64_t *start_ns, uint64_t rate, uint64_t seq) {
    if (rate == 0)
        return 0;
    if (seq == 0)
        *start_ns = s_now_ns();
    return *start_ns + seq * (1000000000u / rate) + seq * (1000000000u % rate) / rate;
}

void tp_pub_sleep_until(uint64_t at_ns) {
    struct timespec ts = { .tv_sec = (time_t)(at_ns / 1000000000u),
                           .tv_nsec = (long)(at_ns % 1000000000u) };
    while (at_ns && clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

int main(int argc, char **argv) {
    struct tp_pub_opts o;
    int                r = tp_pub_parse_args(argc, argv, &o);
    if (r != 0)
        return r > 0 ? 0 : TP_PUB_EXIT_USAGE;

    tp_map_t *map = NULL;
    char      err[512] = "";
    if (o.map && tp_map_new_from_file(o.map, err, sizeof err, &map) < 0) {
        fprintf(stderr, "tp-pub: %s\n", err);
        return TP_PUB_EXIT_USAGE;
    }
    bool              use_stdin = strcmp(o.file, "-") == 0;
    struct tp_pub_run run = { .o = &o, .name = use_stdin ? "<stdin>" : o.file };
    FILE             *in = use_stdin ? stdin : fopen(o.file, "re");
    if (!in) {
        fprintf(stderr, "tp-pub: cannot open '%s': %s\n", o.file, strerror(errno));
        tp_map_destroy(&map);
        return TP_PUB_EXIT_USAGE;
    }
    int status;
    if (tp_input_new(in, map, TP_PUB_MAX_LINE, &run.input) < 0) {
        fprintf(stderr, "tp-pub: out of memory\n");
        status = TP_PUB_EXIT_USAGE;
    } else if (o.dry_run) {
        status = tp_pub_run_dry(&run);
    } else if (o.nats) {
        /* Decoding JSON is what limits --nats on one thread: workers decode
         * ahead (a mapping keeps its one reader: its CSV is stateful). */
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        if (!map && tp_pub_ahead_new(in, TP_PUB_MAX_LINE, cpus > 1 ? (unsigned)cpus : 1,
                                     TP_PUB_NATS_ID_WHY, &run.ahead) < 0) {
            fprintf(stderr, "tp-pub: cannot start the decoding threads\n");
            status = TP_PUB_EXIT_USAGE;
        } else {
            status = tp_pub_run_nats(&run);
        }
        tp_pub_ahead_destroy(&run.ahead);
    } else if (o.reliable) {
        status = tp_pub_run_reliable(&run);
    } else {
        status = tp_pub_run_xpub(&run);
    }
    tp_input_destroy(&run.input);
    tp_map_destroy(&map);
    if (!use_stdin)
        fclose(in);
    return status;
}
