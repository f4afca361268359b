/* tp_daemon — the running daemon: binds the bus to the engine on one
 * libevent loop and owns the state directory.
 *
 * main() owns the event_base, the signals and the config; this module owns
 * everything made from them: the state-dir lock, the ZeroMQ sockets, the
 * engine. Teardown is the reverse of creation.
 */
#pragma once

#include <stdbool.h>
#include <stdio.h>

#include "tp_config.h"
#include "tp_engine.h"

struct event_base;

typedef struct {
    FILE *print_alerts;       /* also print each alert as a JSON line; NULL = no */
    bool  move_aside_corrupt; /* a corrupt journal is renamed and a new one started */
} tp_daemon_opts_t;

typedef struct tp_daemon tp_daemon_t;

/* Locks cfg->state_dir (creating it), builds the engine and binds or
 * connects every endpoint. `cfg` is borrowed and must outlive the daemon.
 * Logs what failed; returns 0 or a negative errno. */
int tp_daemon_new(struct event_base *base, const tp_config_t *cfg, const tp_daemon_opts_t *opts,
                  tp_daemon_t **ret);

/* Switches the running daemon to `next` (borrowed; must outlive the daemon
 * or the next reload): endpoints whose settings changed are reopened, rule
 * thresholds apply from the next event, state (calls, contracts, open
 * alerts, deadlines, the journal) is kept. Validated against the running
 * daemon first (state_dir, journal.enabled, clock and the engine's sizes
 * need a restart); on any failure, including a bind, the daemon stays on
 * its current config. Logs the outcome; 0 or a negative errno. */
int tp_daemon_reload(tp_daemon_t *d, const tp_config_t *next);

tp_engine_t *tp_daemon_engine(tp_daemon_t *d);

/* One line for humans (systemd STATUS=): throughput, open alerts, state.
 * `ctx` is the daemon (the signature of tp_notify_status_fn). */
void tp_daemon_status(void *ctx, char *buf, size_t len);

/* Logs one line with every counter. */
void tp_daemon_log_stats(const tp_daemon_t *d);

void tp_daemon_destroy(tp_daemon_t **p);
