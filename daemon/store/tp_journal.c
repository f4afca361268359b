/* tp_journal — see tp_journal.h. */
#include "tp_journal.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "tp_log.h"

#define SCHEMA_VERSION      1
#define CHECKPOINT_EVERY_MS 1000 /* until tp_journal_set_checkpoint says otherwise */

typedef struct s_row {
    struct s_row *next;
    uint64_t      seq;
    int64_t       written_at_ms;
    int           status;
    size_t        len;
    char         *topic;
    char         *alert_id;
    unsigned char body[];
} s_row_t;

struct tp_journal {
    sqlite3      *db;
    sqlite3_stmt *insert;
    sqlite3_stmt *set_last;
    sqlite3_stmt *read_after;
    sqlite3_stmt *log_event;
    s_row_t      *head, **tail;       /* queued alerts, in sequence order */
    s_row_t      *ev_head, **ev_tail; /* queued event-log records, in processing order */
    size_t        pending;
    uint64_t      last_seq; /* last committed sequence */
    char         *wal_path; /* <path>-wal, for its size */
    /* WAL checkpoints run on their own thread and connection, for the
     * journal's whole life: done by the committing connection (SQLite's
     * auto-checkpoint) they stalled the event loop for tens of ms now and
     * then (bench_e2e: journal-on p99 at 10k events/s 25 ms, 1.5 ms
     * without); not done at all, the WAL grows by every commit (133 MB
     * after 500k events). Everything below ckpt_lock is shared with it. */
    sqlite3         *ckpt_db;
    pthread_t        ckpt_thread;
    bool             ckpt_running, ckpt_stop;
    pthread_mutex_t  ckpt_lock;
    pthread_cond_t   ckpt_wake;
    int64_t          ckpt_every_ms; /* a pass this often */
    uint64_t         wal_max_bytes; /* past this after a pass: TRUNCATE (0 = never) */
    tp_journal_wal_t wal;           /* what the passes saw */
};

static int s_exec(sqlite3 *db, const char *sql, char *err, size_t errlen);

static uint64_t s_file_size(const char *path) {
    struct stat sb;
    return path && stat(path, &sb) == 0 ? (uint64_t)sb.st_size : 0;
}

/* One checkpoint round. PASSIVE never blocks the writer (or readers): it
 * copies what it can and leaves the rest. Under a sustained flood it never
 * catches up (each commit lands while it copies), so the WAL is never
 * restarted from its beginning and only grows; past wal_max_bytes a
 * TRUNCATE copies the rest and empties the file. That one holds the write
 * lock while it copies what the PASSIVE left (little): the event loop does
 * not wait for it, its commit finds the journal busy and is retried a few
 * ms later (tp_journal_commit says -EBUSY). */
static void s_checkpoint(tp_journal_t *j, uint64_t wal_max) {
    int nlog = 0, nckpt = 0;
    int rc = sqlite3_wal_checkpoint_v2(j->ckpt_db, NULL, SQLITE_CHECKPOINT_PASSIVE, &nlog, &nckpt);
    if (rc == SQLITE_OK && nlog < 0)
        rc = SQLITE_ERROR; /* "not in WAL mode": it did nothing */
    bool truncated = false;
    if (rc == SQLITE_OK && wal_max > 0 && s_file_size(j->wal_path) > wal_max) {
        rc = sqlite3_wal_checkpoint_v2(j->ckpt_db, NULL, SQLITE_CHECKPOINT_TRUNCATE, &nlog, &nckpt);
        truncated = rc == SQLITE_OK;
    }
    pthread_mutex_lock(&j->ckpt_lock);
    if (rc == SQLITE_OK) {
        j->wal.checkpoints++;
        j->wal.truncations += truncated;
        j->wal.lag_frames = nlog > nckpt ? (uint64_t)(nlog - nckpt) : 0;
        if (nlog <= nckpt)
            j->wal.last_caught_up_ms = tp_monotonic_ms();
    } else if ((rc & 0xff) != SQLITE_BUSY) {
        j->wal.errors++; /* BUSY: a reader or the writer; next round */
    }
    pthread_mutex_unlock(&j->ckpt_lock);
}

static void *s_checkpointer(void *arg) {
    tp_journal_t *j = arg;
    pthread_mutex_lock(&j->ckpt_lock);
    while (!j->ckpt_stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        int64_t ns = until.tv_nsec + (j->ckpt_every_ms % 1000) * 1000000;
        until.tv_sec += j->ckpt_every_ms / 1000 + ns / 1000000000;
        until.tv_nsec = ns % 1000000000;
        pthread_cond_timedwait(&j->ckpt_wake, &j->ckpt_lock, &until);
        if (j->ckpt_stop)
            break;
        uint64_t wal_max = j->wal_max_bytes;
        pthread_mutex_unlock(&j->ckpt_lock);
        s_checkpoint(j, wal_max);
        pthread_mutex_lock(&j->ckpt_lock);
    }
    pthread_mutex_unlock(&j->ckpt_lock);
    return NULL;
}

static int s_start_checkpointer(tp_journal_t *j, const char *path, char *err, size_t errlen) {
    if (sqlite3_open_v2(path, &j->ckpt_db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        snprintf(err, errlen, "checkpoint connection: %s",
                 j->ckpt_db ? sqlite3_errmsg(j->ckpt_db) : "out of memory");
        return -EIO;
    }
    /* Its own waits (for a reader, for the writer's commit) happen on its
     * own thread; the event loop's connection has no busy handler. */
    sqlite3_busy_timeout(j->ckpt_db, 100);
    /* A connection learns that the database is in WAL mode on its first
     * read; until then a checkpoint on it does nothing and says SQLITE_OK. */
    if (s_exec(j->ckpt_db, "SELECT count(*) FROM meta", err, errlen) < 0)
        return -EIO;
    j->wal.last_caught_up_ms = tp_monotonic_ms();
    int r = pthread_create(&j->ckpt_thread, NULL, s_checkpointer, j);
    if (r != 0) {
        snprintf(err, errlen, "checkpoint thread: %s", strerror(r));
        return -r;
    }
    j->ckpt_running = true;
    return 0;
}

static void s_stop_checkpointer(tp_journal_t *j) {
    if (j->ckpt_running) {
        pthread_mutex_lock(&j->ckpt_lock);
        j->ckpt_stop = true;
        pthread_cond_signal(&j->ckpt_wake);
        pthread_mutex_unlock(&j->ckpt_lock);
        pthread_join(j->ckpt_thread, NULL);
        j->ckpt_running = false;
    }
    sqlite3_close(j->ckpt_db);
    j->ckpt_db = NULL;
}

void tp_journal_set_checkpoint(tp_journal_t *j, int64_t every_ms, uint64_t wal_max_bytes) {
    pthread_mutex_lock(&j->ckpt_lock);
    j->ckpt_every_ms = every_ms > 0 ? every_ms : CHECKPOINT_EVERY_MS;
    j->wal_max_bytes = wal_max_bytes;
    pthread_cond_signal(&j->ckpt_wake);
    pthread_mutex_unlock(&j->ckpt_lock);
    /* The WAL is cut back to this size whenever it starts over. */
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA journal_size_limit=%lld",
             wal_max_bytes ? (long long)wal_max_bytes : -1LL);
    sqlite3_exec(j->db, sql, NULL, NULL, NULL);
}

void tp_journal_wal_stats(tp_journal_t *j, tp_journal_wal_t *ret) {
    pthread_mutex_lock(&j->ckpt_lock);
    *ret = j->wal;
    pthread_mutex_unlock(&j->ckpt_lock);
    ret->wal_bytes = s_file_size(j->wal_path);
}

static void s_free_rows(s_row_t **head, s_row_t ***tail) {
    while (*head) {
        s_row_t *row = *head;
        *head = row->next;
        free(row);
    }
    *tail = head;
}

static int s_exec(sqlite3 *db, const char *sql, char *err, size_t errlen) {
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK)
        return 0;
    snprintf(err, errlen, "%s", msg ? msg : sqlite3_errmsg(db));
    sqlite3_free(msg);
    return -EIO;
}

/* Maps an SQLite failure to an errno, writing the reason. */
static int s_fail(sqlite3 *db, char *err, size_t errlen) {
    int code = sqlite3_errcode(db);
    snprintf(err, errlen, "%s", sqlite3_errmsg(db));
    switch (code & 0xff) {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB: return -EBADMSG;
    case SQLITE_FULL: return -ENOSPC;
    case SQLITE_NOMEM: return -ENOMEM;
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return -EBUSY;
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_CANTOPEN: return -EACCES;
    default: return -EIO;
    }
}

static int s_check(sqlite3 *db, char *err, size_t errlen) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "PRAGMA quick_check", -1, &st, NULL) != SQLITE_OK)
        return s_fail(db, err, errlen);
    int r = 0;
    if (sqlite3_step(st) != SQLITE_ROW) {
        r = s_fail(db, err, errlen);
    } else {
        const char *res = (const char *)sqlite3_column_text(st, 0);
        if (!res || strcmp(res, "ok") != 0) {
            snprintf(err, errlen, "integrity check failed: %s", res ? res : "?");
            r = -EBADMSG;
        }
    }
    sqlite3_finalize(st);
    return r;
}

int tp_journal_open(const char *path, char *err, size_t errlen, tp_journal_t **ret) {
    tp_journal_t *j = calloc(1, sizeof *j);
    if (!j)
        return -ENOMEM;
    j->tail = &j->head;
    j->ev_tail = &j->ev_head;
    pthread_mutex_init(&j->ckpt_lock, NULL);
    pthread_cond_init(&j->ckpt_wake, NULL);
    j->ckpt_every_ms = CHECKPOINT_EVERY_MS;
    int    r;
    size_t pl = strlen(path);
    if (!(j->wal_path = malloc(pl + 5))) {
        r = -ENOMEM;
        goto fail;
    }
    memcpy(j->wal_path, path, pl);
    memcpy(j->wal_path + pl, "-wal", 5);
    if (sqlite3_open_v2(path, &j->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        r = j->db ? s_fail(j->db, err, errlen) : -ENOMEM;
        goto fail;
    }
    sqlite3_extended_result_codes(j->db, 1);
    /* WAL + synchronous=NORMAL: a committed transaction survives the
     * process being killed at any point (the WAL is written before commit
     * returns); only an OS crash or power loss can lose the last commits. */
    if ((r = s_check(j->db, err, errlen)) < 0 ||
        (r = s_exec(
             j->db,
             "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA wal_autocheckpoint=0;"
             "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER);"
             "CREATE TABLE IF NOT EXISTS alerts("
             " seq INTEGER PRIMARY KEY, written_at INTEGER NOT NULL,"
             " topic TEXT NOT NULL, alert_id TEXT NOT NULL,"
             " status INTEGER NOT NULL, body BLOB NOT NULL);"
             "CREATE TABLE IF NOT EXISTS events("
             " seq INTEGER PRIMARY KEY, kind INTEGER NOT NULL,"
             " processed_at INTEGER NOT NULL, topic TEXT NOT NULL, body BLOB NOT NULL);"
             "INSERT OR IGNORE INTO meta VALUES('schema', 1);"
             "INSERT OR IGNORE INTO meta VALUES('last_seq', 0);",
             err, errlen)) < 0)
        goto fail;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(j->db,
                           "SELECT (SELECT value FROM meta WHERE key='schema'),"
                           " (SELECT value FROM meta WHERE key='last_seq')",
                           -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        r = s_fail(j->db, err, errlen);
        sqlite3_finalize(st);
        goto fail;
    }
    int64_t schema = sqlite3_column_int64(st, 0);
    j->last_seq = (uint64_t)sqlite3_column_int64(st, 1);
    sqlite3_finalize(st);
    if (schema != SCHEMA_VERSION) {
        snprintf(err, errlen, "journal schema %lld, this touchpointd reads %d", (long long)schema,
                 SCHEMA_VERSION);
        r = -EBADMSG;
        goto fail;
    }
    if (sqlite3_prepare_v2(j->db, "INSERT INTO alerts VALUES(?,?,?,?,?,?)", -1, &j->insert, NULL) !=
            SQLITE_OK ||
        sqlite3_prepare_v2(j->db, "UPDATE meta SET value=? WHERE key='last_seq'", -1, &j->set_last,
                           NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(j->db,
                           "SELECT seq, topic, body FROM alerts WHERE seq > ?"
                           " ORDER BY seq LIMIT ?",
                           -1, &j->read_after, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(j->db,
                           "INSERT INTO events(kind, processed_at, topic, body)"
                           " VALUES(?,?,?,?)",
                           -1, &j->log_event, NULL) != SQLITE_OK) {
        r = s_fail(j->db, err, errlen);
        goto fail;
    }
    if ((r = s_start_checkpointer(j, path, err, errlen)) < 0)
        goto fail;
    *ret = j;
    return 0;
fail:
    tp_journal_close(&j);
    return r;
}

uint64_t tp_journal_last_seq(const tp_journal_t *j) {
    return j->last_seq;
}

int tp_journal_append(tp_journal_t *j, uint64_t seq, const char *topic, const char *alert_id,
                      int status, int64_t written_at_ms, const void *body, size_t len) {
    size_t   tl = strlen(topic) + 1, al = strlen(alert_id) + 1;
    s_row_t *row = malloc(sizeof *row + len + tl + al);
    if (!row)
        return -ENOMEM;
    *row = (s_row_t){ .seq = seq, .written_at_ms = written_at_ms, .status = status, .len = len };
    memcpy(row->body, body, len);
    row->topic = (char *)row->body + len;
    memcpy(row->topic, topic, tl);
    row->alert_id = row->topic + tl;
    memcpy(row->alert_id, alert_id, al);
    *j->tail = row;
    j->tail = &row->next;
    j->pending++;
    return 0;
}

int tp_journal_seed_sequence(tp_journal_t *j, uint64_t seq) {
    if (seq <= j->last_seq)
        return 0;
    sqlite3_bind_int64(j->set_last, 1, (sqlite3_int64)seq);
    int rc = sqlite3_step(j->set_last);
    sqlite3_reset(j->set_last);
    if (rc != SQLITE_DONE)
        return -EIO;
    j->last_seq = seq;
    return 0;
}

int tp_journal_log_event(tp_journal_t *j, int kind, int64_t processed_at_ms, const char *topic,
                         const void *body, size_t len) {
    size_t   tl = strlen(topic) + 1;
    s_row_t *row = malloc(sizeof *row + len + tl);
    if (!row)
        return -ENOMEM;
    *row = (s_row_t){ .written_at_ms = processed_at_ms, .status = kind, .len = len };
    if (len)
        memcpy(row->body, body, len);
    row->topic = (char *)row->body + len;
    memcpy(row->topic, topic, tl);
    row->alert_id = row->topic + tl - 1; /* "" */
    *j->ev_tail = row;
    j->ev_tail = &row->next;
    j->pending++;
    return 0;
}

int64_t tp_journal_for_each_event(tp_journal_t *j, tp_journal_event_fn fn, void *ctx) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(j->db, "SELECT kind, processed_at, topic, body FROM events ORDER BY seq",
                           -1, &st, NULL) != SQLITE_OK)
        return -EIO;
    int64_t n = 0;
    int     rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *topic = (const char *)sqlite3_column_text(st, 2);
        int r = fn(ctx, sqlite3_column_int(st, 0), sqlite3_column_int64(st, 1), topic ? topic : "",
                   sqlite3_column_blob(st, 3), (size_t)sqlite3_column_bytes(st, 3));
        if (r < 0) {
            sqlite3_finalize(st);
            return r;
        }
        n++;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? n : -EIO;
}

int64_t tp_journal_prune_events(tp_journal_t *j, int64_t now_ms, int64_t max_age_ms) {
    char sql[128], err[128];
    snprintf(sql, sizeof sql, "DELETE FROM events WHERE processed_at < %lld",
             (long long)(now_ms - max_age_ms));
    if (max_age_ms <= 0 || s_exec(j->db, sql, err, sizeof err) < 0)
        return max_age_ms <= 0 ? 0 : -EIO;
    return sqlite3_changes(j->db);
}

size_t tp_journal_pending(const tp_journal_t *j) {
    return j->pending;
}

int tp_journal_commit(tp_journal_t *j, char *err, size_t errlen) {
    if (!j->head && !j->ev_head)
        return 0;
    /* BUSY here is the checkpointer truncating the WAL (it holds the
     * write lock for that): nothing failed, the caller tries again soon. */
    if (sqlite3_exec(j->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return s_fail(j->db, err, errlen);
    int r;
    for (s_row_t *row = j->ev_head; row; row = row->next) {
        sqlite3_stmt *st = j->log_event;
        sqlite3_bind_int(st, 1, row->status);
        sqlite3_bind_int64(st, 2, row->written_at_ms);
        sqlite3_bind_text(st, 3, row->topic, -1, SQLITE_STATIC);
        sqlite3_bind_blob(st, 4, row->len ? (const void *)row->body : "", (int)row->len,
                          SQLITE_STATIC);
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE)
            goto rollback;
    }
    uint64_t last = j->last_seq;
    for (s_row_t *row = j->head; row; row = row->next) {
        sqlite3_stmt *st = j->insert;
        sqlite3_bind_int64(st, 1, (sqlite3_int64)row->seq);
        sqlite3_bind_int64(st, 2, row->written_at_ms);
        sqlite3_bind_text(st, 3, row->topic, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, row->alert_id, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 5, row->status);
        sqlite3_bind_blob(st, 6, row->body, (int)row->len, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE)
            goto rollback;
        if (row->seq > last)
            last = row->seq;
    }
    sqlite3_bind_int64(j->set_last, 1, (sqlite3_int64)last);
    int rc = sqlite3_step(j->set_last);
    sqlite3_reset(j->set_last);
    if (rc != SQLITE_DONE)
        goto rollback;
    if (sqlite3_exec(j->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        goto rollback;
    j->last_seq = last;
    s_free_rows(&j->head, &j->tail);
    s_free_rows(&j->ev_head, &j->ev_tail);
    j->pending = 0;
    return 0;
rollback:
    r = s_fail(j->db, err, errlen);
    sqlite3_exec(j->db, "ROLLBACK", NULL, NULL, NULL);
    return r;
}

int64_t tp_journal_prune(tp_journal_t *j, int64_t now_ms, int64_t max_age_ms, uint64_t max_alerts) {
    char    sql[256], err[128];
    int64_t deleted = 0;
    if (max_age_ms > 0) {
        snprintf(sql, sizeof sql, "DELETE FROM alerts WHERE written_at < %lld",
                 (long long)(now_ms - max_age_ms));
        if (s_exec(j->db, sql, err, sizeof err) < 0)
            return -EIO;
        deleted += sqlite3_changes(j->db);
    }
    if (max_alerts > 0 && j->last_seq > max_alerts) {
        snprintf(sql, sizeof sql, "DELETE FROM alerts WHERE seq <= %llu",
                 (unsigned long long)(j->last_seq - max_alerts));
        if (s_exec(j->db, sql, err, sizeof err) < 0)
            return -EIO;
        deleted += sqlite3_changes(j->db);
    }
    return deleted;
}

int64_t tp_journal_read_after(tp_journal_t *j, uint64_t after, size_t limit, tp_journal_row_fn fn,
                              void *ctx, uint64_t *ret_last) {
    sqlite3_stmt *st = j->read_after;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)after);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)limit);
    int64_t  n = 0;
    uint64_t last = after;
    int      rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        uint64_t    seq = (uint64_t)sqlite3_column_int64(st, 0);
        const char *topic = (const char *)sqlite3_column_text(st, 1);
        const void *body = sqlite3_column_blob(st, 2);
        size_t      len = (size_t)sqlite3_column_bytes(st, 2);
        int         r = fn(ctx, seq, topic ? topic : "", body, len);
        if (r != 0) {
            sqlite3_reset(st);
            *ret_last = last;
            return r < 0 ? r : n;
        }
        last = seq;
        n++;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return -EIO;
    *ret_last = last;
    return n;
}

int tp_journal_stats(tp_journal_t *j, uint64_t *ret_count, uint64_t *ret_first) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(j->db, "SELECT count(*), coalesce(min(seq), 0) FROM alerts", -1, &st,
                           NULL) != SQLITE_OK)
        return -EIO;
    int r = -EIO;
    if (sqlite3_step(st) == SQLITE_ROW) {
        *ret_count = (uint64_t)sqlite3_column_int64(st, 0);
        *ret_first = (uint64_t)sqlite3_column_int64(st, 1);
        r = 0;
    }
    sqlite3_finalize(st);
    return r;
}

void tp_journal_close(tp_journal_t **p) {
    tp_journal_t *j = p ? *p : NULL;
    if (!j)
        return;
    s_stop_checkpointer(j);
    s_free_rows(&j->head, &j->tail);
    s_free_rows(&j->ev_head, &j->ev_tail);
    sqlite3_finalize(j->insert);
    sqlite3_finalize(j->log_event);
    sqlite3_finalize(j->set_last);
    sqlite3_finalize(j->read_after);
    sqlite3_close(j->db);
    pthread_cond_destroy(&j->ckpt_wake);
    pthread_mutex_destroy(&j->ckpt_lock);
    free(j->wal_path);
    free(j);
    *p = NULL;
}
