/* tp_testnotify — what a daemon test drives the daemon with besides its
 * own sockets: a datagram socket standing in for systemd's notify socket
 * (sd_notify: READY, STATUS, RELOADING, STOPPING, WATCHDOG pings), and
 * tp-pub sending a whole JSONL file, with the alerts it must raise. */
#pragma once

#include <stddef.h>

#include "tp_testdaemon.h"

typedef struct {
    int   fd;  /* bound AF_UNIX datagram socket */
    char *dir; /* its own temporary directory, holding "notify" */
    char  path[108];
} tp_notify_t;

/* Binds a fresh notify socket. */
void tp_notify_open(tp_notify_t *n);

/* Closes it and removes its directory. */
void tp_notify_close(tp_notify_t *n);

/* Reads one datagram within TP_WAIT_MS into buf (NUL-terminated). */
void tp_notify_recv(const tp_notify_t *n, char *buf, size_t len);

/* tp_dfx_start(clock event, no extra YAML) with NOTIFY_SOCKET=n and
 * WATCHDOG_USEC=watchdog_usec in the daemon's environment only. */
tp_dfx_t *tp_dfx_start_notified(const tp_notify_t *n, const char *watchdog_usec);

/* One alert a test expects, in order; resolution (the evidence) is
 * checked when not NULL. */
typedef struct {
    const char *topic, *id;
    int         status;
    long long   detected_at;
    const char *resolution;
} tp_want_alert_t;

/* Runs tp-pub --endpoint d->in_ep on `path` to its end (exit 0), then
 * receives n alerts (each within TP_WAIT_MS). */
void tp_dfx_publish_file(tp_dfx_t *d, const char *path, size_t n);

/* d->got.alerts[i] is want[i] for i < n: topic, alert_id, status,
 * detected_at_ms and the resolution where given. */
void tp_dfx_expect_alerts(const tp_dfx_t *d, const tp_want_alert_t *want, size_t n);
