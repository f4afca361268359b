/* tp_journal_internal — what tp_journal.c (the database: schema, the
 * commit of a range of records, reads, retention, the checkpointer) shares
 * with tp_journal_writer.c (the ring the loop fills and the writer thread
 * that commits it). Not an API.
 *
 * The ring: one contiguous buffer, single producer (the event loop:
 * appends records, publishes a position) and single consumer (the writer
 * thread, or the caller of tp_journal_commit while no writer runs: commits
 * what is published and releases it). Positions are byte offsets that only
 * grow (never wrapped); a record sits at pos % size, whole: where one does
 * not fit before the end, a pad record fills the rest. */
#pragma once

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "tp_journal.h"

#define CHECKPOINT_EVERY_MS 1000 /* until tp_journal_set_checkpoint says otherwise */

enum { REC_ALERT = 1, REC_LOG = 2, REC_PAD = 3 };

/* One record in the ring, 8-byte aligned, followed by topic\0, alert_id\0
 * (alerts) and the body. */
typedef struct {
    uint32_t size; /* the whole record, header included, a multiple of 8 */
    uint16_t kind; /* REC_* */
    uint16_t pad_;
    uint32_t topic_len, id_len, body_len;
    int32_t  status; /* an alert's status, or an event-log record's TP_LOG_* */
    uint64_t seq;    /* alerts */
    int64_t  at_ms;  /* written_at (alerts) or processed_at (event log) */
} tp_jrec_t;

struct tp_journal {
    sqlite3      *db;  /* writes: the writer thread's once it runs */
    sqlite3      *rdb; /* the loop's reads (replay, stats, rebuild) */
    sqlite3_stmt *insert;
    sqlite3_stmt *set_last; /* seeding and pruning only: commits leave meta alone */
    sqlite3_stmt *begin, *commit;
    sqlite3_stmt *read_after; /* on rdb */
    sqlite3_stmt *log_event;
    char         *wal_path; /* <path>-wal, for its size */
    /* The last sequence committed (the writer's), and the last one the
     * loop has been told is committed: replay serves no further, so a
     * consumer never gets from the replay an alert not yet published. */
    _Atomic uint64_t last_seq;
    uint64_t         visible_seq;

    /* The ring (see above). wpos and unit_end are the loop's; pub is
     * written by the loop and read by the consumer; head the reverse. */
    unsigned char   *ring;
    size_t           ring_size;
    uint64_t         wpos;      /* where the next record goes */
    uint64_t         unit_end;  /* after the last event-log record: a whole unit */
    _Atomic uint64_t pub;       /* the consumer may commit up to here */
    _Atomic uint64_t head;      /* committed and released up to here */
    uint64_t         appended;  /* records appended (the loop's count) */
    uint64_t         event_seq; /* the event-log position of the last record logged */
    _Atomic uint64_t done;      /* records committed (the consumer's count) */

    /* The writer thread (tp_journal_writer.c). Below w_lock: shared. */
    bool                  w_running;
    pthread_t             w_thread;
    pthread_mutex_t       w_lock;
    pthread_cond_t        w_wake;  /* the writer: something published, or stop */
    pthread_cond_t        w_space; /* the loop: a commit released room, or failed */
    _Atomic bool          w_idle;  /* the writer sleeps on w_wake */
    bool                  w_stop;
    unsigned              w_waiters; /* loop calls waiting on w_space */
    int                   w_efd;     /* eventfd: the loop's wake-up after each attempt */
    tp_journal_progress_t w_prog;
    int64_t               prune_every_ms, last_prune_ms, retention_ms, event_retention_ms;
    uint64_t              max_alerts;
    /* Event-log truncation behind the oldest snapshot kept (the loop
     * asks, the writer deletes after its next commit). */
    _Atomic uint64_t trunc_upto;
    _Atomic int64_t  trunc_keep_ms;
    uint64_t         trunc_done;

    /* WAL checkpoints run on their own thread and connection, for the
     * journal's whole life: done by the committing connection (SQLite's
     * auto-checkpoint) they stalled the commits for tens of ms now and
     * then; not done at all, the WAL grows by every commit (133 MB after
     * 500k events). Everything below ckpt_lock is shared with it. */
    sqlite3         *ckpt_db;
    sqlite3         *guard_db;   /* the pass's read transaction: pins the WAL */
    int              db_fd;      /* journal.db, for fdatasync */
    _Atomic bool     truncating; /* a RESTART waits for the write lock: the writer steps aside */
    _Atomic bool     shrink;     /* the WAL was restarted: the writer cuts the file in a lull */
    _Atomic bool     writer_shrinks; /* the writer thread runs: it cuts the WAL, not a TRUNCATE */
    pthread_t        ckpt_thread;
    bool             ckpt_running, ckpt_stop;
    pthread_mutex_t  ckpt_lock;
    pthread_cond_t   ckpt_wake;
    int64_t          ckpt_every_ms; /* a pass this often */
    uint64_t         wal_max_bytes; /* past this after a pass: TRUNCATE (0 = never) */
    tp_journal_wal_t wal;           /* what the passes saw */
};

/* Writes the records in [from, to) of the ring in one transaction, with
 * the last sequence. 0 (*ret_last: that sequence, *ret_records: how many
 * records) or a negative errno with the reason in err (rolled back). */
int tp_journal_commit_range(tp_journal_t *j, uint64_t from, uint64_t to, uint64_t *ret_last,
                            uint64_t *ret_records, char *err, size_t errlen);

/* Room for a record of `size` bytes (a multiple of 8) at wpos, padding to
 * the ring's start if needed; with the writer running, waits for it to
 * commit (back-pressure: the loop reads nothing meanwhile). Returns the
 * record's place, or NULL: -ENOBUFS (no writer to wait for, or the
 * unfinished unit fills the ring) in *ret_err. */
tp_jrec_t *tp_journal_reserve(tp_journal_t *j, size_t size, int *ret_err);

/* Stops and joins the writer (what is published is committed first, if
 * it can be) and closes its eventfd. */
void tp_journal_stop_writer(tp_journal_t *j);

/* The checkpointer (tp_journal_ckpt.c): started by tp_journal_open on its
 * own connection to path, stopped (and its connection closed) by close. */
int  tp_journal_start_checkpointer(tp_journal_t *j, const char *path, char *err, size_t errlen);
void tp_journal_stop_checkpointer(tp_journal_t *j);
