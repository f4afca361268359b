/* tp_notify — telling the service manager how we are (sd_notify(3)).
 *
 * READY=1 once sockets are bound and state is rebuilt, RELOADING=1 /
 * READY=1 around a SIGHUP reload, STOPPING=1 on the way out, a STATUS=
 * line every few seconds, and WATCHDOG=1 pings at half of WatchdogSec=.
 * The pings come from a timer on the event loop on purpose: a loop stuck
 * in one callback stops pinging, and systemd restarts us.
 *
 * Without $NOTIFY_SOCKET (not under systemd, tests) everything here is a
 * cheap no-op.
 */
#pragma once

#include <stddef.h>

struct event_base;

typedef struct tp_notify tp_notify_t;

/* Writes the one-line STATUS= summary into buf. */
typedef void (*tp_notify_status_fn)(void *ctx, char *buf, size_t len);

/* Arms the watchdog (if WATCHDOG_USEC is set for us) and the status timer.
 * 0 or negative errno. */
int tp_notify_new(struct event_base *base, tp_notify_status_fn status, void *ctx,
                  tp_notify_t **ret);

void tp_notify_ready(tp_notify_t *n);
void tp_notify_reloading(tp_notify_t *n);
void tp_notify_stopping(tp_notify_t *n);

void tp_notify_destroy(tp_notify_t **p);
