/* tp_daemon — see tp_daemon.h. */
#include "tp_daemon.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tp_replay_server.h"
#include "tp_bus.h"
#include "tp_clock.h"
#include "tp_curve_key.h"
#include "tp_http.h"
#include "tp_journal.h"
#include "tp_log.h"
#include "tp_nats.h"
#include "tp_daemon_internal.h"
#include "tp_outbox.h"

/* mkdir -p, mode 0750 for what we create. */
static int s_mkdir_p(const char *path) {
    char *p = strdup(path);
    if (!p)
        return -ENOMEM;
    int r = 0;
    for (char *s = p + 1; r == 0; s++) {
        if (*s != '/' && *s != '\0')
            continue;
        char c = *s;
        *s = '\0';
        if (mkdir(p, 0750) < 0 && errno != EEXIST)
            r = -errno;
        *s = c;
        if (c == '\0')
            break;
    }
    free(p);
    return r;
}

/* One daemon per state directory: a second one would corrupt the state
 * the first keeps there. flock is released by the kernel if we die. */
static int s_lock_state_dir(tp_daemon_t *d) {
    int r = s_mkdir_p(d->cfg->state_dir);
    if (r < 0)
        return log_error_errno(r, "Failed to create state directory '%s': %m", d->cfg->state_dir);
    char path[4096];
    snprintf(path, sizeof path, "%s/touchpointd.lock", d->cfg->state_dir);
    d->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (d->lock_fd < 0)
        return log_error_errno(errno, "Failed to open '%s': %m", path);
    if (flock(d->lock_fd, LOCK_EX | LOCK_NB) < 0) {
        if (errno == EWOULDBLOCK)
            return log_error_errno(EBUSY, "State directory '%s' is in use by another touchpointd",
                                   d->cfg->state_dir);
        return log_error_errno(errno, "Failed to lock '%s': %m", path);
    }
    return 0;
}

/* The engine's wall clock: read once per callback (and taken from the log
 * while rebuilding), so an event is processed at one instant and a rebuild
 * sees the same instants the live run saw. */
static int64_t s_wall_cb(void *ctx) {
    return ((tp_daemon_t *)ctx)->now_ms;
}

int tp_daemon_new_engine(tp_daemon_t *d) {
    tp_engine_destroy(&d->engine);
    tp_kpi_destroy(&d->kpi);
    tp_metrics_destroy(&d->kpi_m);
    int r = tp_engine_new(d->cfg, &d->engine);
    if (r < 0)
        return log_error_errno(r, "Failed to set up the rule engine: %m");
    tp_engine_set_sink(d->engine, tp_daemon_alert_sink, d);
    tp_clock_set_wall(tp_engine_clock(d->engine), s_wall_cb, d);
    /* The KPIs before the rebuild: they are a function of the event log,
     * the same after a restart as without one (behind a snapshot, from
     * its section). */
    if (tp_metrics_new("touchpointd_", &d->kpi_m) < 0 || tp_kpi_new(d->cfg, d->kpi_m, &d->kpi) < 0)
        return log_error_errno(ENOMEM, "Out of memory");
    tp_engine_set_observer(d->engine, tp_kpi_observe, d->kpi);
    return 0;
}

/* Wall clock: keep the single libevent timer on the earliest deadline.
 * Called after every event (an O(1) peek); re-adds the timer only when the
 * earliest due time changed. Event clock: deadlines fire as events move
 * time, so no timer is needed. */
void tp_daemon_rearm(tp_daemon_t *d) {
    if (d->cfg->clock != TP_CLOCK_WALL)
        return;
    int64_t next = tp_engine_next_deadline(d->engine);
    if (next == d->armed_for)
        return;
    d->armed_for = next;
    if (next == INT64_MAX) {
        evtimer_del(d->deadline_ev);
        return;
    }
    /* Due means "now > due": wake 1 ms after it. */
    int64_t delay = next + 1 - tp_clock_now(tp_engine_clock(d->engine));
    if (delay < 0)
        delay = 0;
    if (delay > (int64_t)86400000 * 365)
        delay = (int64_t)86400000 * 365;
    struct timeval tv = { .tv_sec = (time_t)(delay / 1000),
                          .tv_usec = (suseconds_t)(delay % 1000) * 1000 };
    evtimer_add(d->deadline_ev, &tv);
}

static void s_deadline_cb(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    tp_daemon_t *d = arg;
    d->armed_for = INT64_MIN;
    d->now_ms = tp_realtime_ms();
    if (tp_engine_fire_due(d->engine) > 0)
        tp_daemon_log(d, TP_LOG_TICK, "", 0, NULL, 0);
    tp_daemon_rearm(d);
}

/* After the engine handled the event [topic, Envelope] with result r: an
 * accepted one goes to the event log, an error is logged, timers rearmed. */
static void s_handled(tp_daemon_t *d, int r, const tp_frame_t ev[2]) {
    if (r == TP_ACCEPTED)
        tp_daemon_log(d, TP_LOG_EVENT, ev[0].data, ev[0].len, ev[1].data, ev[1].len);
    else if (r < 0)
        log_error_errno(r, "Failed to process event: %m");
    tp_daemon_rearm(d);
}

/* A NACK to the reliable producer `who`, naming the event and the reason. */
static void s_nack(tp_daemon_t *d, const tp_frame_t *who, const char *id, const char *why) {
    tp_frame_t nack[4] = { *who, { "NACK", 4 }, { id, strlen(id) }, { why, strlen(why) } };
    tp_bus_send(d->reliable, nack, 4);
}

static void s_input_cb(void *arg, const tp_frame_t *frames, size_t nframes) {
    tp_daemon_t *d = arg;
    d->now_ms = tp_realtime_ms();
    s_handled(d, tp_engine_handle(d->engine, frames, nframes), frames);
}

/* Reliable input: [identity, topic, Envelope]. Accepted (or already seen)
 * events are ACKed after the commit that stores them; events that can never
 * be accepted are NACKed at once with the reason. */
static void s_reliable_cb(void *arg, const tp_frame_t *frames, size_t nframes) {
    tp_daemon_t *d = arg;
    char         why[256] = "expected [topic, Envelope]", id[160] = "";
    d->now_ms = tp_realtime_ms();
    /* Through the engine whatever the frame count, so a bad one is received
     * and refused (frames) like on any input. */
    int r = TP_REFUSED;
    if (nframes >= 1)
        r = tp_engine_handle_why(d->engine, frames + 1, nframes - 1, why, sizeof why, id,
                                 sizeof id);
    if (r == TP_ACCEPTED)
        tp_daemon_log(d, TP_LOG_EVENT, frames[1].data, frames[1].len, frames[2].data,
                      frames[2].len);
    if (r == TP_ACCEPTED || r == TP_DUPLICATE) {
        /* On ENOMEM no ACK: the producer resends, dedup absorbs it. */
        tp_daemon_queued(d, tp_outbox_ack(d->outbox, frames[0].data, frames[0].len, id));
    } else if (r == TP_REFUSED && nframes >= 1) {
        s_nack(d, &frames[0], id, why);
    } else if (r < 0) {
        log_error_errno(r, "Failed to process event: %m");
    }
    tp_daemon_rearm(d);
}

/* Reliable input, a message over limits.max_message_bytes (counted and
 * logged by the bus): NACKed, naming its event when it decodes, so the
 * producer stops resending what will never be accepted. */
static void s_reliable_oversize_cb(void *arg, const tp_frame_t *frames, size_t nframes) {
    tp_daemon_t *d = arg;
    char         why[160], id[TP_ID_MAX + 1] = "";
    size_t       bytes = 0;
    for (size_t i = 1; i < nframes && i < 3; i++)
        bytes += frames[i].len;
    if (nframes == 3)
        tp_codec_event_id(&frames[2], id, sizeof id);
    snprintf(why, sizeof why, "message of %zu bytes is over limits.max_message_bytes (%zu)", bytes,
             d->cfg->max_message_bytes);
    s_nack(d, &frames[0], id, why);
}

/* HTTP ingest: one event [topic, Envelope] down the reliable input's path
 * (engine, then the event log, in this loop turn's transaction), with the
 * bus's size limit. */
static int s_ingest_submit_cb(void *ctx, const tp_frame_t frames[2], char *why, size_t whylen) {
    tp_daemon_t *d = ctx;
    d->now_ms = tp_realtime_ms();
    if (frames[1].len > d->cfg->max_message_bytes) {
        tp_stats_count_oversize(tp_engine_counters(d->engine));
        snprintf(why, whylen, "the event is %zu bytes encoded, over limits.max_message_bytes (%zu)",
                 frames[1].len, d->cfg->max_message_bytes);
        return TP_REFUSED;
    }
    int r = tp_engine_handle_why(d->engine, frames, 2, why, whylen, NULL, 0);
    s_handled(d, r, frames);
    return r;
}

static const char *s_mode(const tp_endpoint_t *ep) {
    return ep->mode == TP_MODE_BIND ? "bind" : "connect";
}

/* The endpoint of `role` under cfg, NULL if the role is off. */
const tp_endpoint_t *tp_daemon_role_ep(const tp_daemon_t *d, const tp_config_t *cfg, int role) {
    if (role < ROLE_OUTPUT)
        return (size_t)role < cfg->n_inputs ? &cfg->inputs[role] : NULL;
    if (role == ROLE_OUTPUT)
        return &cfg->output;
    if (role == ROLE_RELIABLE)
        return cfg->reliable_input.enabled ? &cfg->reliable_input.endpoint : NULL;
    return d->journal && cfg->replay.enabled ? &cfg->replay.endpoint : NULL;
}

int tp_daemon_open_role(tp_daemon_t *d, const tp_config_t *cfg, int role) {
    const tp_endpoint_t *ep = tp_daemon_role_ep(d, cfg, role);
    if (!ep)
        return 0;
    int         r;
    const char *what = "input";
    if (role < ROLE_OUTPUT) {
        r = tp_bus_add_input(d->bus, ep, cfg->max_message_bytes, s_input_cb, d, &d->inputs[role]);
    } else if (role == ROLE_OUTPUT) {
        what = "output";
        r = tp_bus_set_output(d->bus, ep);
    } else if (role == ROLE_RELIABLE) {
        what = "reliable input";
        r = tp_bus_add_router(d->bus, ep, cfg->max_message_bytes, s_reliable_cb, d, &d->reliable);
        if (r >= 0)
            tp_bus_on_oversize(d->reliable, s_reliable_oversize_cb);
    } else {
        what = "replay endpoint";
        tp_replay_limits_t lim = { .stall_timeout_ms = cfg->replay.stall_timeout_ms,
                                   .max_per_peer = cfg->replay.max_per_peer };
        r = tp_replay_server_new(d->base, d->bus, d->journal, ep, &lim,
                                 tp_engine_counters(d->engine), &d->replay);
    }
    if (r < 0)
        return log_error_errno(r, "Failed to %s %s '%s': %m", s_mode(ep), what, ep->endpoint);
    return 0;
}

/* Closes the socket of `role`; what is queued on an input is processed
 * first, so moving an endpoint loses nothing that already arrived. */
void tp_daemon_close_role(tp_daemon_t *d, int role) {
    if (role < ROLE_OUTPUT) {
        tp_bus_close(d->bus, &d->inputs[role], true);
    } else if (role == ROLE_OUTPUT) {
        tp_bus_sock_t *out = tp_bus_output(d->bus);
        tp_bus_close(d->bus, &out, true);
    } else if (role == ROLE_RELIABLE) {
        tp_bus_close(d->bus, &d->reliable, true);
    } else {
        tp_replay_server_destroy(&d->replay);
    }
}

int tp_daemon_open_http(tp_daemon_t *d, const tp_config_t *cfg) {
    const tp_ingest_ops_t ops = { .submit = s_ingest_submit_cb,
                                  .when_durable = tp_daemon_ingest_when_durable_cb,
                                  .ctx = d };
    char                  why[512];
    int r = tp_http_new(d->base, cfg, d->engine, d->kpi, d->kpi_m, &ops, why, sizeof why, &d->http);
    if (r < 0)
        return log_error_errno(r, "Failed to start the HTTP endpoint: %s: %m", why);
    tp_http_set_collector(d->http, tp_daemon_collect_cb, d);
    log_info("HTTP endpoint on %s (port %u): /healthz /metrics /status%s%s", cfg->http.listen,
             tp_http_port(d->http), cfg->http.ingest.enabled ? " /v1/events" : "",
             cfg->http.dashboard.enabled ? " /dashboard/ /v1/alerts /v1/kpi" : "");
    return 0;
}

/* Requests still waiting for a commit are answered before the endpoint
 * (and their connections) go. */
void tp_daemon_close_http(tp_daemon_t *d) {
    if (!d->http)
        return;
    if (d->outbox)
        tp_outbox_fail_http(d->outbox, -ECANCELED);
    tp_http_destroy(&d->http);
}

/* Loads the allow-list of every bound endpoint of cfg into the ZAP handler
 * (at start, and on reload: key files are re-read, so adding or revoking a
 * client is an edit and a SIGHUP). 0 or negative errno, logged. */
int tp_daemon_load_allow_lists(tp_daemon_t *d, const tp_config_t *cfg) {
    if (!d->zap)
        return 0;
    for (int role = 0; role < ROLE_COUNT; role++) {
        const tp_endpoint_t *ep = tp_daemon_role_ep(d, cfg, role);
        if (!ep || ep->mode != TP_MODE_BIND)
            continue;
        int r = tp_zap_load(d->zap, ep->name, ep->curve_clients);
        if (r == -EBADMSG)
            return log_error_errno(r, "%s:%u: not a Z85 public key (%s.curve_clients)",
                                   ep->curve_clients, tp_zap_bad_line(d->zap), ep->name);
        if (r < 0)
            return log_error_errno(r, "Failed to load %s.curve_clients '%s': %m", ep->name,
                                   ep->curve_clients);
        log_info("CURVE on %s: %zu client keys allowed", ep->name, tp_zap_count(d->zap, ep->name));
    }
    return 0;
}

/* What the bus drops is counted, and with curve.secret_key_file set every
 * endpoint uses CURVE: the key file is refused if others may read it (as
 * ssh refuses a private key), and each bound endpoint's allow-list is
 * loaded before its socket exists, so no client is ever admitted unchecked. */
static int s_bus_guards(tp_daemon_t *d) {
    const tp_config_t *cfg = d->cfg;
    tp_ratelimit_t     rl = { .interval_ms = cfg->log_interval_ms, .burst = cfg->log_burst };
    tp_bus_set_counters(d->bus, tp_engine_counters(d->engine), &rl);
    const char *path = cfg->curve.secret_key_file;
    if (!path)
        return 0;
    char pub[TP_Z85_LEN + 1], sec[TP_Z85_LEN + 1], why[512];
    int  r = tp_curve_key_load("curve.secret_key_file", path, pub, sec, why, sizeof why);
    if (r < 0)
        return log_error_errno(r, "Refusing to start: %s", why);
    r = tp_bus_enable_curve(d->bus, pub, sec, &d->zap);
    explicit_bzero(sec, sizeof sec);
    if (r < 0)
        return log_error_errno(r, "Failed to start the ZAP handler: %m");
    if ((r = tp_daemon_load_allow_lists(d, cfg)) < 0)
        return r;
    log_info("CURVE on every endpoint; the daemon's public key is %s", pub);
    return 0;
}

int tp_daemon_new(struct event_base *base, const tp_config_t *cfg, const tp_daemon_opts_t *opts,
                  tp_daemon_t **ret) {
    tp_daemon_t *d = calloc(1, sizeof *d);
    if (!d)
        return log_error_errno(ENOMEM, "Out of memory");
    d->base = base;
    d->cfg = cfg;
    d->lock_fd = -1;
    d->journal_rl =
        (tp_ratelimit_t){ .interval_ms = cfg->log_interval_ms, .burst = cfg->log_burst };
    d->print_alerts = opts ? opts->print_alerts : NULL;

    int r = s_lock_state_dir(d);
    if (r < 0)
        goto fail;
    if ((r = tp_outbox_new(&tp_daemon_outbox_ops, d, &d->outbox)) < 0) {
        r = log_error_errno(r, "Out of memory");
        goto fail;
    }
    d->now_ms = tp_realtime_ms();
    if ((r = tp_daemon_new_engine(d)) < 0)
        goto fail;
    if (cfg->journal.enabled &&
        (r = tp_daemon_open_journal(d, opts && opts->move_aside_corrupt)) < 0)
        goto fail;
    d->armed_for = INT64_MAX;
    d->deadline_ev = evtimer_new(base, s_deadline_cb, d);
    if (!d->deadline_ev) {
        r = log_error_errno(ENOMEM, "Failed to create the deadline timer");
        goto fail;
    }
    if ((r = tp_bus_new(base, &d->bus)) < 0) {
        log_error_errno(r, "Failed to create ZeroMQ context: %m");
        goto fail;
    }
    if ((r = s_bus_guards(d)) < 0)
        goto fail;
    if (cfg->reliable_input.enabled && !d->journal) {
        r = log_error_errno(EINVAL, "reliable_input needs journal.enabled: an ACK promises the "
                                    "event is stored");
        goto fail;
    }
    if (cfg->nats.enabled && (r = tp_daemon_open_nats(d)) < 0)
        goto fail;
    for (int role = 0; role < ROLE_COUNT; role++)
        if ((r = tp_daemon_open_role(d, cfg, role)) < 0)
            goto fail;
    if (cfg->http.enabled && (r = tp_daemon_open_http(d, cfg)) < 0)
        goto fail;
    if (cfg->http.ingest.enabled && !cfg->http.enabled)
        log_warning("http.ingest.enabled has no effect with http.enabled false");
    else if (cfg->http.ingest.enabled && !d->journal)
        log_warning("HTTP ingest without journal.enabled: a 200 means processed, not stored");
    tp_engine_rebuilt(d->engine); /* rebuilt, and alerts can go out: see tp_engine.h */
    *ret = d;
    return 0;
fail:
    tp_daemon_destroy(&d);
    return r;
}

tp_engine_t *tp_daemon_engine(tp_daemon_t *d) {
    return d->engine;
}

void tp_daemon_status(void *ctx, char *buf, size_t len) {
    const tp_daemon_t *d = ctx;
    const tp_stats_t  *st = tp_engine_stats(d->engine);
    snprintf(buf, len,
             "%llu events accepted, %llu refused, %llu duplicates; %zu open alerts; "
             "%zu calls, %zu contracts, %zu deadlines; %zu subscribers",
             (unsigned long long)st->accepted, (unsigned long long)tp_stats_bad_total(st),
             (unsigned long long)st->duplicates, tp_engine_open_alerts(d->engine),
             tp_engine_calls(d->engine), tp_engine_cases(d->engine), tp_engine_deadlines(d->engine),
             tp_bus_subscribers(d->bus));
}

void tp_daemon_log_stats(const tp_daemon_t *d) {
    char line[1024];
    tp_stats_format(tp_engine_stats(d->engine), line, sizeof line);
    char nats[512];
    tp_daemon_nats_format(d, nats, sizeof nats);
    log_info("stats: %s open_alerts=%zu known_calls=%zu known_cases=%zu deadlines=%zu%s", line,
             tp_engine_open_alerts(d->engine), tp_engine_calls(d->engine),
             tp_engine_cases(d->engine), tp_engine_deadlines(d->engine), nats);
}

void tp_daemon_destroy(tp_daemon_t **p) {
    tp_daemon_t *d = p ? *p : NULL;
    if (!d)
        return;
    /* What the last loop turn raised is stored and sent before we go. */
    if (d->journal && d->flush_ev && d->engine)
        tp_daemon_journal_drain(d);
    tp_daemon_snapshot_stop(d);
    tp_daemon_close_http(d);
    tp_replay_server_destroy(&d->replay);
    tp_bus_destroy(&d->bus);
    tp_outbox_destroy(&d->outbox);
    tp_nats_destroy(&d->nats);
    tp_cluster_destroy(&d->cluster);
    if (d->flush_ev)
        event_free(d->flush_ev);
    if (d->commit_ev)
        event_free(d->commit_ev);
    tp_journal_close(&d->journal);
    if (d->deadline_ev)
        event_free(d->deadline_ev);
    tp_engine_destroy(&d->engine);
    tp_kpi_destroy(&d->kpi);
    tp_metrics_destroy(&d->kpi_m);
    if (d->lock_fd >= 0)
        close(d->lock_fd);
    free(d);
    *p = NULL;
}
