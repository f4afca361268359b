/* tp_notify — see tp_notify.h. */
#include "tp_notify.h"

#include <errno.h>
#include <event2/event.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "tp_log.h"

#define STATUS_EVERY_S 5

struct tp_notify {
    struct event       *watchdog; /* WATCHDOG=1 every WATCHDOG_USEC / 2 */
    struct event       *status;   /* STATUS= every STATUS_EVERY_S */
    tp_notify_status_fn status_fn;
    void               *ctx;
    bool                active; /* $NOTIFY_SOCKET is set */
};

static void s_send(tp_notify_t *n, const char *state) {
    if (!n->active)
        return;
    char line[512];
    n->status_fn(n->ctx, line, sizeof line);
    int r = sd_notifyf(0, "%s%sSTATUS=%s", state, *state ? "\n" : "", line);
    if (r < 0)
        log_debug("sd_notify failed: %s", strerror(-r));
}

static void s_watchdog_cb(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    (void)arg;
    sd_notify(0, "WATCHDOG=1");
}

static void s_status_cb(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    s_send(arg, "");
}

int tp_notify_new(struct event_base *base, tp_notify_status_fn status, void *ctx,
                  tp_notify_t **ret) {
    tp_notify_t *n = calloc(1, sizeof *n);
    if (!n)
        return -ENOMEM;
    n->status_fn = status;
    n->ctx = ctx;
    n->active = getenv("NOTIFY_SOCKET") != NULL;
    uint64_t usec = 0;
    int      r = 0;
    if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
        /* Half the timeout, as sd_watchdog_enabled(3) advises: one late
         * ping must not be fatal. */
        uint64_t       half = usec / 2;
        struct timeval tv = { .tv_sec = (time_t)(half / 1000000),
                              .tv_usec = (suseconds_t)(half % 1000000) };
        n->watchdog = event_new(base, -1, EV_PERSIST, s_watchdog_cb, n);
        if (!n->watchdog || event_add(n->watchdog, &tv) < 0)
            r = -ENOMEM;
        else
            log_info("Watchdog armed: pinging every %llu ms", (unsigned long long)(half / 1000));
    }
    if (r == 0 && n->active) {
        struct timeval tv = { STATUS_EVERY_S, 0 };
        n->status = event_new(base, -1, EV_PERSIST, s_status_cb, n);
        if (!n->status || event_add(n->status, &tv) < 0)
            r = -ENOMEM;
    }
    if (r < 0) {
        tp_notify_destroy(&n);
        return r;
    }
    *ret = n;
    return 0;
}

void tp_notify_ready(tp_notify_t *n) {
    s_send(n, "READY=1");
}

void tp_notify_reloading(tp_notify_t *n) {
    if (!n->active)
        return;
    /* MONOTONIC_USEC lets systemd >= 253 (Type=notify-reload) match the
     * READY=1 that ends this reload; older versions ignore it. */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    char state[96];
    snprintf(state, sizeof state, "RELOADING=1\nMONOTONIC_USEC=%llu",
             (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000);
    s_send(n, state);
}

void tp_notify_stopping(tp_notify_t *n) {
    s_send(n, "STOPPING=1");
}

void tp_notify_destroy(tp_notify_t **p) {
    tp_notify_t *n = p ? *p : NULL;
    if (!n)
        return;
    if (n->watchdog)
        event_free(n->watchdog);
    if (n->status)
        event_free(n->status);
    free(n);
    *p = NULL;
}
