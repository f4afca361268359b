/* tp_journal — the alert journal: every alert, with its sequence number,
 * on disk before it is published.
 *
 * SQLite in WAL mode at <state_dir>/journal.db. The daemon appends each
 * alert as it is raised and commits once per loop turn (group commit: one
 * transaction however many alerts that turn raised), then publishes them.
 * So a consumer never sees an alert the journal could lose, sequence
 * numbers continue across restarts (the last one is kept in a meta row
 * even when retention has pruned every alert), and the replay endpoint can
 * serve "everything after N". It is also the auditable alert history.
 *
 * The same database keeps the event log: every accepted bus event (and
 * every wall-clock tick that fired deadlines), in processing order, in the
 * same transaction as the alerts they raised. Replaying it through a fresh
 * engine rebuilds all rule state after a restart or a crash.
 *
 * Retention prunes by age and by count after commits. Called by tp_daemon
 * only; no I/O happens on the caller's thread outside tp_journal_open /
 * _commit / _read_after / _prune. A thread of its own checkpoints the WAL
 * into the database while the daemon runs, so the WAL stays bounded.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

typedef struct tp_journal tp_journal_t;

/* Opens (creating) the journal at `path`, checks it (PRAGMA quick_check).
 * Returns 0, or a negative errno: -EBADMSG for a corrupt or foreign file,
 * with a one-line reason in err. */
int tp_journal_open(const char *path, char *err, size_t errlen, tp_journal_t **ret);

/* The sequence number of the last alert ever journaled, 0 if none. */
uint64_t tp_journal_last_seq(const tp_journal_t *j);

/* Raises the last sequence to at least `seq` (a journal started over after
 * corruption continues above any number consumers may have stored).
 * 0 or negative errno. */
int tp_journal_seed_sequence(tp_journal_t *j, uint64_t seq);

/* Queues one alert for the next commit (copies everything). 0 or -ENOMEM. */
int tp_journal_append(tp_journal_t *j, uint64_t seq, const char *topic, const char *alert_id,
                      int status, int64_t written_at_ms, const void *body, size_t len);

/* Event log record kinds. */
enum { TP_LOG_EVENT = 0, TP_LOG_TICK = 1 };

/* Queues one event-log record for the next commit: a bus message
 * [topic, body] processed at processed_at_ms (wall clock), or a tick (the
 * deadline timer fired at processed_at_ms; topic/body empty). 0 or -ENOMEM. */
int tp_journal_log_event(tp_journal_t *j, int kind, int64_t processed_at_ms, const char *topic,
                         const void *body, size_t len);

/* Calls fn for every logged record in processing order; stops and returns
 * fn's value if it is negative. Returns the number of records, or a
 * negative errno. */
typedef int (*tp_journal_event_fn)(void *ctx, int kind, int64_t processed_at_ms, const char *topic,
                                   const void *body, size_t len);
int64_t tp_journal_for_each_event(tp_journal_t *j, tp_journal_event_fn fn, void *ctx);

/* Deletes event-log records processed before now_ms - max_age_ms. */
int64_t tp_journal_prune_events(tp_journal_t *j, int64_t now_ms, int64_t max_age_ms);

/* Alerts and event records queued and not yet committed. */
size_t tp_journal_pending(const tp_journal_t *j);

/* Writes everything queued in one transaction. 0, or a negative errno
 * (the queue is kept, so the next commit retries); err gets the reason.
 * -EBUSY: the checkpointer holds the write lock (truncating the WAL) and
 * nothing was written; try again in a few ms. Never waits. */
int tp_journal_commit(tp_journal_t *j, char *err, size_t errlen);

/* Deletes alerts older than now_ms - max_age_ms (if max_age_ms > 0) and
 * all but the newest max_alerts (if > 0). Returns how many were deleted,
 * or a negative errno. */
int64_t tp_journal_prune(tp_journal_t *j, int64_t now_ms, int64_t max_age_ms, uint64_t max_alerts);

/* Calls fn for up to `limit` committed alerts with sequence > after, in
 * order; stops early if fn returns non-zero (and returns that). Returns the
 * number of alerts visited (>= 0) or a negative errno. *ret_last gets the
 * last sequence visited (after, if none). */
typedef int (*tp_journal_row_fn)(void *ctx, uint64_t seq, const char *topic, const void *body,
                                 size_t len);
int64_t tp_journal_read_after(tp_journal_t *j, uint64_t after, size_t limit, tp_journal_row_fn fn,
                              void *ctx, uint64_t *ret_last);

/* Number of alerts held and the oldest held sequence (0 if empty). */
int tp_journal_stats(tp_journal_t *j, uint64_t *ret_count, uint64_t *ret_first);

/* The checkpointer thread (its own connection, for the journal's life):
 * a PASSIVE checkpoint every `every_ms`, and a TRUNCATE when the WAL file
 * is still over `wal_max_bytes` after it (0 = never), which is also the
 * size the WAL is cut back to when it starts over (journal_size_limit).
 * Defaults until called: every second, no limit. */
void tp_journal_set_checkpoint(tp_journal_t *j, int64_t every_ms, uint64_t wal_max_bytes);

/* What the checkpointer saw, for /metrics. */
typedef struct {
    uint64_t wal_bytes;         /* the -wal file's size now */
    uint64_t lag_frames;        /* WAL frames not in the database after the last pass */
    int64_t  last_caught_up_ms; /* CLOCK_MONOTONIC ms of the last pass that copied every frame */
    uint64_t checkpoints;       /* passes that ran */
    uint64_t truncations;       /* of them, TRUNCATEs (the WAL was over its limit) */
    uint64_t errors;            /* passes that failed (other than busy) */
} tp_journal_wal_t;
void tp_journal_wal_stats(tp_journal_t *j, tp_journal_wal_t *ret);

/* Frees the queue and closes the database (uncommitted alerts are lost:
 * commit first). Accepts NULL. */
void tp_journal_close(tp_journal_t **p);
