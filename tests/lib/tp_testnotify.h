/* tp_testnotify — a datagram socket standing in for systemd's notify
 * socket, and a daemon started with it (sd_notify: READY, STATUS,
 * RELOADING, STOPPING, WATCHDOG pings). */
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
