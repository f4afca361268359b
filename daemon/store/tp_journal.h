/* tp_journal — the alert journal: every alert, with its sequence number,
 * on disk before it is published.
 *
 * SQLite in WAL mode at <state_dir>/journal.db. The daemon appends each
 * alert as it is raised into a ring, hands the ring over once per loop
 * turn (tp_journal_submit), and a writer thread of the journal's commits
 * what was handed over in one transaction (group commit: however many
 * turns piled up while it committed the previous batch) and says so on an
 * eventfd; only then does the daemon publish. The loop never waits for
 * SQLite: it waits only when the ring is full (back-pressure).
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
 * Retention prunes by age and by count, on the writer thread. Called by
 * tp_daemon only. Until tp_journal_start_writer, commits run on the
 * caller's thread (tp_journal_commit: start-up, and the unit tests); after
 * it, only the loop's reads (_read_after, _stats) touch the database on the
 * caller's thread, on a connection of their own. A thread of its own checkpoints the WAL
 * into the database while the daemon runs, so the WAL stays bounded.
 */
#pragma once

#include <stdbool.h>
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

/* Queues one alert for the next commit (copies everything into the ring).
 * 0, or -ENOBUFS: the ring is full and no writer runs to empty it (or the
 * record is larger than a quarter of the ring). */
int tp_journal_append(tp_journal_t *j, uint64_t seq, const char *topic, const char *alert_id,
                      int status, int64_t written_at_ms, const void *body, size_t len);

/* Event log record kinds. */
enum { TP_LOG_EVENT = 0, TP_LOG_TICK = 1 };

/* Queues one event-log record for the next commit: a bus message
 * [topic, body] processed at processed_at_ms (wall clock), or a tick (the
 * deadline timer fired at processed_at_ms; topic/body empty). It closes a
 * unit: the alerts queued before it were raised by it, and a commit never
 * splits them from it. 0 or -ENOBUFS (as tp_journal_append). */
int tp_journal_log_event(tp_journal_t *j, int kind, int64_t processed_at_ms, const char *topic,
                         const void *body, size_t len);

/* Calls fn for every logged record in processing order; stops and returns
 * fn's value if it is negative. Returns the number of records, or a
 * negative errno. */
typedef int (*tp_journal_event_fn)(void *ctx, int kind, int64_t processed_at_ms, const char *topic,
                                   const void *body, size_t len);
int64_t tp_journal_for_each_event(tp_journal_t *j, tp_journal_event_fn fn, void *ctx);

/* As tp_journal_for_each_event, the records after log position `after`. */
int64_t tp_journal_for_each_event_after(tp_journal_t *j, uint64_t after, tp_journal_event_fn fn,
                                        void *ctx);

/* The log position of the last record logged (queued or committed; the
 * next one gets this + 1), and of the oldest one held (0 if none). */
uint64_t tp_journal_last_event(const tp_journal_t *j);
uint64_t tp_journal_first_event(tp_journal_t *j);

/* Raises the last position to at least pos (at start-up, from the
 * snapshots: a log truncated to nothing continues above them). */
void tp_journal_seed_events(tp_journal_t *j, uint64_t pos);

/* Asks the writer to delete, after its next commit, the event-log records
 * at positions <= upto that were processed more than keep_ms ago (0: all
 * of them): the log behind the oldest snapshot kept. Without a writer,
 * tp_journal_truncate_now does it (returns how many, or -EIO). */
void    tp_journal_truncate_events(tp_journal_t *j, uint64_t upto, int64_t keep_ms);
int64_t tp_journal_truncate_now(tp_journal_t *j, int64_t now_ms);

/* Deletes event-log records processed before now_ms - max_age_ms (not
 * while the writer runs: it prunes, see tp_journal_set_retention). */
int64_t tp_journal_prune_events(tp_journal_t *j, int64_t now_ms, int64_t max_age_ms);

/* Alerts and event records queued and not yet committed. */
size_t tp_journal_pending(const tp_journal_t *j);

/* Without the writer thread: writes everything queued in one transaction.
 * 0, or a negative errno (the queue is kept, so the next commit retries);
 * err gets the reason. -EBUSY: the checkpointer holds the write lock
 * (truncating the WAL) and nothing was written; try again in a few ms.
 * Never waits. -EINVAL once the writer runs. */
int tp_journal_commit(tp_journal_t *j, char *err, size_t errlen);

/* The writer thread: from now on commits happen on it, in batches of
 * whatever was submitted while it committed the last one. The ring is
 * grown first to hold records of max_record bytes (a bus message) four
 * times over. Waits for the write lock up to a second (the checkpointer
 * truncating the WAL); a failure is retried every second. 0 or a negative
 * errno, with the reason in err. */
int tp_journal_start_writer(tp_journal_t *j, size_t max_record, char *err, size_t errlen);

/* An eventfd, readable after each commit attempt of the writer; read it
 * with tp_journal_progress. -1 before tp_journal_start_writer. */
int tp_journal_fd(const tp_journal_t *j);

/* Hands everything queued so far to the writer. Returns the position that
 * must be committed (tp_journal_progress_t.committed) for it to be stored. */
uint64_t tp_journal_submit(tp_journal_t *j);

/* The ring position committed up to, without reading the eventfd: one
 * atomic load, cheap enough to ask after every event of a long loop turn. */
uint64_t tp_journal_committed(const tp_journal_t *j);

/* What the writer has done, for the loop. */
typedef struct {
    uint64_t committed;    /* ring position committed up to */
    uint64_t last_seq;     /* the last alert sequence committed */
    uint64_t commits;      /* successful commits, since the start */
    uint64_t failures;     /* failed attempts, since the start */
    double   last_seconds; /* how long the last successful commit took */
    bool     failing;      /* the last attempt failed (retried in a second) */
    char     err[256];     /* the last failure's reason */
} tp_journal_progress_t;

/* Reads the eventfd and fills *ret. Replay serves alerts up to the
 * last_seq seen here, no further. Without a writer: what the last
 * tp_journal_commit did. */
void tp_journal_progress(tp_journal_t *j, tp_journal_progress_t *ret);

/* Submits, then waits until the writer has committed everything, it fails
 * once, or timeout_ms pass (shutdown). 0, -EIO or -ETIMEDOUT. */
int tp_journal_drain(tp_journal_t *j, int64_t timeout_ms);

/* Retention, applied by the writer after a commit at most once a minute:
 * alerts older than retention_ms and beyond the newest max_alerts, event
 * records older than event_retention_ms (0: no limit). */
void tp_journal_set_retention(tp_journal_t *j, int64_t retention_ms, uint64_t max_alerts,
                              int64_t event_retention_ms);

/* Deletes alerts older than now_ms - max_age_ms (if max_age_ms > 0) and
 * all but the newest max_alerts (if > 0). Returns how many were deleted,
 * or a negative errno. Not while the writer runs (it prunes). */
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
 * a PASSIVE checkpoint every `every_ms`; when the WAL file is still over
 * `wal_max_bytes` after it (0 = never), a few more passes and then the
 * WAL is started over: a RESTART while the writer thread runs (which cuts
 * the file to nothing once no record has come for 200 ms), a TRUNCATE
 * otherwise. Defaults until called: every second, no limit. */
void tp_journal_set_checkpoint(tp_journal_t *j, int64_t every_ms, uint64_t wal_max_bytes);

/* What the checkpointer saw, for /metrics. */
typedef struct {
    uint64_t wal_bytes;         /* the -wal file's size now */
    uint64_t lag_frames;        /* WAL frames not in the database after the last pass */
    int64_t  last_caught_up_ms; /* CLOCK_MONOTONIC ms of the last pass that copied every frame */
    uint64_t checkpoints;       /* passes that ran */
    uint64_t truncations;       /* of them, WAL restarts (it was over its limit) */
    uint64_t errors;            /* passes that failed (other than busy) */
} tp_journal_wal_t;
void tp_journal_wal_stats(tp_journal_t *j, tp_journal_wal_t *ret);

/* Stops the writer (it commits what was submitted, if it can), frees the
 * ring and closes the database (what was not submitted is lost: drain
 * first). Accepts NULL. */
void tp_journal_close(tp_journal_t **p);
