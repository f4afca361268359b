/* tp_daemon_internal — what tp_daemon.c (start-up, the event path,
 * sockets) shares with tp_daemon_journal.c (the journal, the group commit
 * and what waits for it), tp_daemon_reload.c (SIGHUP) and
 * tp_daemon_nats.c (JetStream). Not an API. */
#pragma once

#include <event2/util.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "tp_replay_server.h"
#include "tp_bus.h"
#include "tp_cluster.h"
#include "tp_daemon.h"
#include "tp_http.h"
#include "tp_kpi.h"
#include "tp_journal.h"
#include "tp_log.h"
#include "tp_nats.h"
#include "tp_nats_metrics.h"
#include "tp_outbox.h"
#include "tp_zap.h"

struct tp_daemon {
    struct event_base  *base;
    const tp_config_t  *cfg;
    int                 lock_fd; /* flock on <state_dir>/touchpointd.lock */
    tp_engine_t        *engine;
    tp_bus_t           *bus;
    FILE               *print_alerts;
    struct event       *deadline_ev; /* the one timer: earliest rule deadline */
    int64_t             armed_for;   /* due time deadline_ev is set for */
    tp_journal_t       *journal;     /* NULL when journal.enabled is false */
    tp_replay_server_t *replay;
    struct event       *flush_ev;  /* hands the turn's records to the writer, once per turn */
    struct event       *commit_ev; /* the journal writer's eventfd: a commit attempt ended */
    struct tp_outbox   *outbox;    /* what waits for the commit (tp_outbox.c) */
    uint64_t            committed; /* the journal position the writer has committed */
    uint64_t            seen_commits, seen_failures; /* the writer's counts, as last read */
    tp_ratelimit_t      journal_rl;
    tp_bus_sock_t      *reliable;              /* ROUTER for at-least-once producers, or NULL */
    tp_bus_sock_t      *inputs[TP_MAX_INPUTS]; /* SUB sockets, as cfg->inputs */
    int64_t             now_ms;                /* the wall clock for this callback: one per event */
    bool                rebuilding; /* replaying the event log: alerts are already journaled */
    tp_zap_t           *zap;        /* CURVE on: the ZAP handler (the bus owns it), or NULL */
    uint64_t            rebuilt_alerts;
    tp_http_t          *http;  /* /healthz, /metrics, /status; NULL when http.enabled is false */
    tp_metrics_t       *kpi_m; /* the KPI families (rendered by http) */
    tp_kpi_t           *kpi;   /* fed from the rebuild on, so KPIs survive restarts */
    tp_nats_t        *nats; /* JetStream input and alert stream; NULL when nats.enabled is false */
    tp_cluster_t     *cluster;      /* instead of nats with nats.ownership: lease */
    tp_nats_metrics_t nats_metrics; /* nats_* on /metrics */
    tp_metric_t      *wal_bytes, *wal_lag, *wal_age, *wal_truncations, *wal_errors; /* journal_* */
    struct tp_daemon_snap *snap; /* snapshots (tp_daemon_snapshot.c), NULL until started */
};

/* (Re)creates d->engine on d->cfg with the daemon's sink and wall clock
 * (a half-loaded snapshot leaves an engine that is thrown away). */
int tp_daemon_new_engine(tp_daemon_t *d);

/* Snapshots (tp_daemon_snapshot.c). Restore: at start-up, loads the newest
 * good snapshot into d->engine; *ret_after gets its event-log position (0:
 * none, replay the whole log). Start: after the rebuild, takes snapshots
 * from then on (snapshot.*). Flushed: the end of a turn handed ring
 * position `pos` to the writer (a snapshot starts here, when one is due).
 * Progress: the writer committed up to d->committed. Stop: at shutdown. */
int  tp_daemon_snapshot_restore(tp_daemon_t *d, uint64_t *ret_after);
int  tp_daemon_snapshot_start(tp_daemon_t *d);
void tp_daemon_snapshot_flushed(tp_daemon_t *d, uint64_t pos);
void tp_daemon_snapshot_progress(tp_daemon_t *d);
void tp_daemon_snapshot_collect(tp_daemon_t *d, tp_metrics_t *m, bool first);
void tp_daemon_snapshot_stop(tp_daemon_t *d);
/* Shutting down: the last flushes take no snapshot. */
void tp_daemon_snapshot_closing(tp_daemon_t *d);

/* Every socket the daemon opens has a role: inputs[i], the output, the
 * reliable input, the replay endpoint. Start-up opens each; a reload
 * closes and reopens the roles whose settings changed. */
enum { ROLE_OUTPUT = TP_MAX_INPUTS, ROLE_RELIABLE, ROLE_REPLAY, ROLE_COUNT };

/* The endpoint of `role` under cfg, NULL if the role is off. */
const tp_endpoint_t *tp_daemon_role_ep(const tp_daemon_t *d, const tp_config_t *cfg, int role);

/* Opens the socket of `role` under cfg (nothing if the role is off). 0 or
 * a negative errno, logged. */
int tp_daemon_open_role(tp_daemon_t *d, const tp_config_t *cfg, int role);

/* Closes the socket of `role`; what is queued on an input is processed
 * first, so moving an endpoint loses nothing that already arrived. */
void tp_daemon_close_role(tp_daemon_t *d, int role);

/* The HTTP endpoint: started on cfg (logged), or closed (requests still
 * waiting for a commit are answered first). */
int  tp_daemon_open_http(tp_daemon_t *d, const tp_config_t *cfg);
void tp_daemon_close_http(tp_daemon_t *d);

/* Loads every bound endpoint's CURVE allow-list into the ZAP handler. */
int tp_daemon_load_allow_lists(tp_daemon_t *d, const tp_config_t *cfg);

/* Wall clock: keeps the one libevent timer on the earliest deadline. */
void tp_daemon_rearm(tp_daemon_t *d);

/* The journal (tp_daemon_journal.c). Opens <state_dir>/journal.db and
 * rebuilds rule state from its event log; 0 or a negative errno, logged. */
int tp_daemon_open_journal(tp_daemon_t *d, bool move_aside);

/* The checkpointer's and the replay endpoint's settings from cfg (at
 * start and on reload). */
void tp_daemon_journal_apply(tp_daemon_t *d, const tp_config_t *cfg);

/* The end of a turn (flush_ev's callback): what the turn queued goes to the
 * journal's writer thread, and what waits for it is sealed with its
 * position (delivered once the writer says it is committed). */
void tp_daemon_flush_cb(evutil_socket_t fd, short what, void *arg);

/* At shutdown: hands over what is left, waits (a few seconds at most) for
 * the writer to commit it, and delivers what it committed. */
void tp_daemon_journal_drain(tp_daemon_t *d);

/* The engine's alert sink: printed, journaled, published after the commit. */
int tp_daemon_alert_sink(void *ctx, const char *topic, const uint8_t *buf, size_t len,
                         const Touchpoint__V1__Alert *alert);

/* What the outbox delivers after a commit: alerts, ACKs, JetStream acks. */
extern const tp_outbox_ops_t tp_daemon_outbox_ops;

/* An accepted bus message (or a tick: topic "", no body) into the event
 * log (the rebuild's input), in this loop turn's transaction. */
void tp_daemon_log(tp_daemon_t *d, int kind, const char *topic, size_t topic_len, const void *body,
                   size_t len);
void tp_daemon_log_event(tp_daemon_t *d, const tp_frame_t frames[2]);

/* Something waits for the commit (r >= 0, what queuing it returned):
 * make sure one comes. Returns r. */
int tp_daemon_queued(tp_daemon_t *d, int r);

/* Acks JetStream message `msg` after the commit that stores what it
 * changed. 0 or -ENOMEM (then the caller releases it: redelivered). */
int tp_daemon_queue_nats_ack(tp_daemon_t *d, void *msg);

/* HTTP ingest's reply waits, like an ACK, for the commit. */
int tp_daemon_ingest_when_durable_cb(void *ctx, tp_ingest_done_fn done, void *arg);

/* The daemon's families on /metrics (the journal's WAL, JetStream's): a
 * tp_http collector. */
void tp_daemon_collect_cb(void *ctx, tp_metrics_t *m, bool first);

/* JetStream (tp_daemon_nats.c). Open: connect, create the streams if
 * missing; static mode subscribes the owned partitions and publishes again
 * the journaled alerts after the last one the alerts stream holds (sent
 * before a crash but never stored there; those stored are dropped by the
 * server's Nats-Msg-Id window), and needs the journal (acks promise
 * durability); lease mode starts tp_cluster. 0 or a negative errno, logged. */
int tp_daemon_open_nats(tp_daemon_t *d);

/* The nats_* families of whichever mode runs: a tp_http collector. */
void tp_daemon_nats_collect_cb(void *ctx, tp_metrics_t *m, bool first);

/* " nats_received=... " for the stats line, "" when JetStream is off. */
void tp_daemon_nats_format(const tp_daemon_t *d, char *buf, size_t len);
