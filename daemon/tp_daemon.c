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

#include "tp_bus.h"
#include "tp_json.h"
#include "tp_log.h"

struct tp_daemon {
    const tp_config_t *cfg;
    int                lock_fd;  /* flock on <state_dir>/touchpointd.lock */
    tp_engine_t       *engine;
    tp_bus_t          *bus;
    FILE              *print_alerts;
    struct event      *deadline_ev;  /* the one timer: earliest rule deadline */
    int64_t            armed_for;    /* due time deadline_ev is set for */
};

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

/* Wall clock: keep the single libevent timer on the earliest deadline.
 * Called after every event (an O(1) peek); re-adds the timer only when the
 * earliest due time changed. Event clock: deadlines fire as events move
 * time, so no timer is needed. */
static void s_rearm(tp_daemon_t *d) {
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
    struct timeval tv = { .tv_sec = (time_t)(delay / 1000), .tv_usec = (suseconds_t)(delay % 1000) * 1000 };
    evtimer_add(d->deadline_ev, &tv);
}

static void s_deadline_cb(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    tp_daemon_t *d = arg;
    d->armed_for = INT64_MIN;
    tp_engine_fire_due(d->engine);
    s_rearm(d);
}

static void s_input_cb(void *arg, const tp_frame_t *frames, size_t nframes) {
    tp_daemon_t *d = arg;
    int r = tp_engine_handle(d->engine, frames, nframes);
    if (r < 0)
        log_error_errno(r, "Failed to process event: %m");
    s_rearm(d);
}

/* Alerts leave here: printed (if asked) and published on the PUB socket. */
static int s_alert_sink(void *ctx, const char *topic, const uint8_t *buf, size_t len,
                        const Touchpoint__V1__Alert *alert) {
    tp_daemon_t *d = ctx;
    char *line;
    if (d->print_alerts && tp_json_dumps_alert(topic, strlen(topic), &alert->base, &line) == 0) {
        fprintf(d->print_alerts, "%s\n", line);
        fflush(d->print_alerts);
        free(line);
    }
    int r = tp_bus_publish(d->bus, topic, buf, len);
    if (r < 0)
        log_warning_errno(r, "Failed to publish alert %s: %m", alert->alert_id);
    return r;
}

int tp_daemon_new(struct event_base *base, const tp_config_t *cfg, const tp_daemon_opts_t *opts,
                  tp_daemon_t **ret) {
    tp_daemon_t *d = calloc(1, sizeof *d);
    if (!d)
        return log_error_errno(ENOMEM, "Out of memory");
    d->cfg = cfg;
    d->lock_fd = -1;
    d->print_alerts = opts ? opts->print_alerts : NULL;

    int r = s_lock_state_dir(d);
    if (r < 0)
        goto fail;
    r = tp_engine_new(cfg, &d->engine);
    if (r < 0) {
        log_error_errno(r, "Failed to set up the rule engine: %m");
        goto fail;
    }
    tp_engine_set_sink(d->engine, s_alert_sink, d);
    d->armed_for = INT64_MAX;
    d->deadline_ev = evtimer_new(base, s_deadline_cb, d);
    if (!d->deadline_ev) {
        r = log_error_errno(ENOMEM, "Failed to create the deadline timer");
        goto fail;
    }
    d->bus = tp_bus_new(base);
    if (!d->bus) {
        r = log_error_errno(errno ? errno : ENOMEM, "Failed to create ZeroMQ context: %m");
        goto fail;
    }
    r = tp_bus_set_output(d->bus, &cfg->output);
    if (r < 0) {
        log_error_errno(r, "Failed to %s output '%s': %m",
                        cfg->output.mode == TP_MODE_BIND ? "bind" : "connect", cfg->output.endpoint);
        goto fail;
    }
    for (size_t i = 0; i < cfg->n_inputs; i++) {
        const tp_endpoint_t *ep = &cfg->inputs[i];
        r = tp_bus_add_input(d->bus, ep, TP_TOPIC_PREFIX, cfg->max_message_bytes, s_input_cb, d);
        if (r < 0) {
            log_error_errno(r, "Failed to %s input '%s': %m",
                            ep->mode == TP_MODE_BIND ? "bind" : "connect", ep->endpoint);
            goto fail;
        }
    }
    *ret = d;
    return 0;
fail:
    tp_daemon_destroy(&d);
    return r;
}

tp_engine_t *tp_daemon_engine(tp_daemon_t *d) {
    return d->engine;
}

void tp_daemon_log_stats(const tp_daemon_t *d) {
    char line[1024];
    tp_stats_format(tp_engine_stats(d->engine), line, sizeof line);
    log_info("stats: %s open_alerts=%zu known_calls=%zu known_cases=%zu deadlines=%zu", line,
             tp_engine_open_alerts(d->engine), tp_engine_calls(d->engine),
             tp_engine_cases(d->engine), tp_engine_deadlines(d->engine));
}

void tp_daemon_destroy(tp_daemon_t **p) {
    tp_daemon_t *d = p ? *p : NULL;
    if (!d)
        return;
    tp_bus_destroy(&d->bus);
    if (d->deadline_ev)
        event_free(d->deadline_ev);
    tp_engine_destroy(&d->engine);
    if (d->lock_fd >= 0)
        close(d->lock_fd);
    free(d);
    *p = NULL;
}
