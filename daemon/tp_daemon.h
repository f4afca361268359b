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
    FILE *print_alerts;          /* also print each alert as a JSON line; NULL = no */
    bool  move_aside_corrupt;    /* a corrupt journal is renamed and a new one started */
} tp_daemon_opts_t;

typedef struct tp_daemon tp_daemon_t;

/* Locks cfg->state_dir (creating it), builds the engine and binds or
 * connects every endpoint. `cfg` is borrowed and must outlive the daemon.
 * Logs what failed; returns 0 or a negative errno. */
int tp_daemon_new(struct event_base *base, const tp_config_t *cfg, const tp_daemon_opts_t *opts,
                  tp_daemon_t **ret);

tp_engine_t *tp_daemon_engine(tp_daemon_t *d);

/* Logs one line with every counter. */
void tp_daemon_log_stats(const tp_daemon_t *d);

void tp_daemon_destroy(tp_daemon_t **p);
