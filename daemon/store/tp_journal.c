/* tp_journal — see tp_journal.h. */
#include "tp_journal.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tp_journal_internal.h"
#include "tp_log.h"

/* 2: meta's last_seq is written only by a prune or a seeding, the newest
 * alert row says the rest. A touchpointd that reads 1 would take a stale
 * last_seq from meta and number alerts twice, so it must refuse a 2 (it
 * does: it checks the version); a 1 is upgraded in place at open (its
 * meta is exact, and max() with the alerts keeps it so). */
#define SCHEMA_VERSION 2
#define RING_BYTES     ((size_t)8 << 20) /* until tp_journal_start_writer grows it */

static int s_exec(sqlite3 *db, const char *sql, char *err, size_t errlen);

static int s_exec(sqlite3 *db, const char *sql, char *err, size_t errlen) {
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK)
        return 0;
    snprintf(err, errlen, "%s", msg ? msg : sqlite3_errmsg(db));
    sqlite3_free(msg);
    return -EIO;
}

/* Steps a prepared statement that returns no row, and resets it. */
static int s_step(sqlite3_stmt *st) {
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc;
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
    pthread_mutex_init(&j->ckpt_lock, NULL);
    pthread_cond_init(&j->ckpt_wake, NULL);
    pthread_mutex_init(&j->w_lock, NULL);
    pthread_cond_init(&j->w_wake, NULL);
    pthread_cond_init(&j->w_space, NULL);
    j->w_efd = -1;
    j->db_fd = -1;
    j->ckpt_every_ms = CHECKPOINT_EVERY_MS;
    j->prune_every_ms = 60000;
    int    r;
    size_t pl = strlen(path);
    j->ring_size = RING_BYTES;
    if (!(j->ring = aligned_alloc(alignof(tp_jrec_t), j->ring_size)) ||
        !(j->wal_path = malloc(pl + 5))) {
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
             "INSERT OR IGNORE INTO meta VALUES('schema', 2);"
             "UPDATE meta SET value=2 WHERE key='schema' AND value=1;"
             "INSERT OR IGNORE INTO meta VALUES('last_seq', 0);",
             err, errlen)) < 0)
        goto fail;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(j->db,
                           "SELECT (SELECT value FROM meta WHERE key='schema'),"
                           " (SELECT value FROM meta WHERE key='last_seq'),"
                           " (SELECT COALESCE(MAX(seq), 0) FROM events),"
                           " (SELECT COALESCE(MAX(seq), 0) FROM alerts)",
                           -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        r = s_fail(j->db, err, errlen);
        sqlite3_finalize(st);
        goto fail;
    }
    int64_t schema = sqlite3_column_int64(st, 0);
    /* meta's last_seq is written only when alerts may be deleted (prune)
     * or a sequence seeded; otherwise the newest alert row says it. */
    uint64_t meta_last = (uint64_t)sqlite3_column_int64(st, 1);
    uint64_t max_alert = (uint64_t)sqlite3_column_int64(st, 3);
    j->last_seq = meta_last > max_alert ? meta_last : max_alert;
    j->event_seq = (uint64_t)sqlite3_column_int64(st, 2);
    j->visible_seq = j->last_seq;
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
        sqlite3_prepare_v2(j->db, "BEGIN IMMEDIATE", -1, &j->begin, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(j->db, "COMMIT", -1, &j->commit, NULL) != SQLITE_OK ||
        sqlite3_open_v2(path, &j->rdb, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
            SQLITE_OK ||
        sqlite3_prepare_v2(j->rdb,
                           "SELECT seq, topic, body FROM alerts WHERE seq > ? AND seq <= ?"
                           " ORDER BY seq LIMIT ?",
                           -1, &j->read_after, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(j->db,
                           "INSERT INTO events(seq, kind, processed_at, topic, body)"
                           " VALUES(?,?,?,?,?)",
                           -1, &j->log_event, NULL) != SQLITE_OK) {
        r = s_fail(j->rdb ? j->rdb : j->db, err, errlen);
        goto fail;
    }
    if ((r = tp_journal_start_checkpointer(j, path, err, errlen)) < 0)
        goto fail;
    *ret = j;
    return 0;
fail:
    tp_journal_close(&j);
    return r;
}

uint64_t tp_journal_last_seq(const tp_journal_t *j) {
    return atomic_load_explicit(&j->last_seq, memory_order_relaxed);
}

/* A record of kind with room for n bytes after its header, at wpos; the
 * caller fills it and calls s_put. NULL: *ret_err. */
static tp_jrec_t *s_rec(tp_journal_t *j, int kind, size_t n, int *ret_err) {
    size_t size = (sizeof(tp_jrec_t) + n + 7) & ~(size_t)7;
    if (size > j->ring_size / 4 || n > UINT32_MAX) {
        *ret_err = -ENOBUFS;
        return NULL;
    }
    tp_jrec_t *rec = tp_journal_reserve(j, size, ret_err);
    if (rec)
        *rec = (tp_jrec_t){ .size = (uint32_t)size, .kind = (uint16_t)kind };
    return rec;
}

/* Fills topic\0, id\0 (if id) and body after rec's header; appended. */
static void s_put(tp_journal_t *j, tp_jrec_t *rec, const char *topic, size_t tl, const char *id,
                  size_t il, const void *body, size_t len) {
    char *p = (char *)(rec + 1);
    memcpy(p, topic, tl);
    p[tl] = '\0';
    p += tl + 1;
    if (id) {
        memcpy(p, id, il);
        p[il] = '\0';
        p += il + 1;
    }
    if (len)
        memcpy(p, body, len);
    rec->topic_len = (uint32_t)tl;
    rec->id_len = (uint32_t)il;
    rec->body_len = (uint32_t)len;
    j->wpos += rec->size;
    j->appended++;
}

int tp_journal_append(tp_journal_t *j, uint64_t seq, const char *topic, const char *alert_id,
                      int status, int64_t written_at_ms, const void *body, size_t len) {
    size_t     tl = strlen(topic), al = strlen(alert_id);
    int        r;
    tp_jrec_t *rec = s_rec(j, REC_ALERT, tl + al + 2 + len, &r);
    if (!rec)
        return r;
    rec->seq = seq;
    rec->status = status;
    rec->at_ms = written_at_ms;
    s_put(j, rec, topic, tl, alert_id, al, body, len);
    return 0;
}

int tp_journal_seed_sequence(tp_journal_t *j, uint64_t seq) {
    if (seq <= j->last_seq || j->w_running)
        return 0;
    sqlite3_bind_int64(j->set_last, 1, (sqlite3_int64)seq);
    if (s_step(j->set_last) != SQLITE_DONE)
        return -EIO;
    j->last_seq = seq;
    j->visible_seq = seq;
    return 0;
}

int tp_journal_log_event(tp_journal_t *j, int kind, int64_t processed_at_ms, const char *topic,
                         const void *body, size_t len) {
    size_t     tl = strlen(topic);
    int        r;
    tp_jrec_t *rec = s_rec(j, REC_LOG, tl + 1 + len, &r);
    if (!rec)
        return r;
    rec->status = kind;
    rec->at_ms = processed_at_ms;
    /* Positions are numbered here, not by SQLite: a snapshot names the
     * position it was taken at before the record is committed, and a log
     * truncated to nothing must not start over at 1. */
    rec->seq = ++j->event_seq;
    s_put(j, rec, topic, tl, NULL, 0, body, len);
    j->unit_end = j->wpos; /* the alerts before it are its own */
    return 0;
}

int64_t tp_journal_for_each_event(tp_journal_t *j, tp_journal_event_fn fn, void *ctx) {
    return tp_journal_for_each_event_after(j, 0, fn, ctx);
}

int64_t tp_journal_for_each_event_after(tp_journal_t *j, uint64_t after, tp_journal_event_fn fn,
                                        void *ctx) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(j->rdb,
                           "SELECT kind, processed_at, topic, body FROM events WHERE seq > ?"
                           " ORDER BY seq",
                           -1, &st, NULL) != SQLITE_OK)
        return -EIO;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)after);
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

uint64_t tp_journal_last_event(const tp_journal_t *j) {
    return j->event_seq;
}

uint64_t tp_journal_first_event(tp_journal_t *j) {
    sqlite3_stmt *st;
    uint64_t      first = 0;
    if (sqlite3_prepare_v2(j->rdb, "SELECT MIN(seq) FROM events", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        first = (uint64_t)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return first;
}

void tp_journal_seed_events(tp_journal_t *j, uint64_t pos) {
    if (pos > j->event_seq)
        j->event_seq = pos;
}

void tp_journal_truncate_events(tp_journal_t *j, uint64_t upto, int64_t keep_ms) {
    atomic_store(&j->trunc_keep_ms, keep_ms);
    pthread_mutex_lock(&j->w_lock);
    atomic_store(&j->trunc_upto, upto);
    pthread_cond_signal(&j->w_wake); /* an idle writer does it now */
    pthread_mutex_unlock(&j->w_lock);
}

/* A test can stop a truncation half-way, to kill the daemon inside it:
 * with the variable naming a file that exists, the writer deletes the rows
 * in a transaction it never commits, creates <that file>.stall, and waits
 * for the end (the file is the test's go-ahead, so the truncations before
 * it run as usual). */
#define TRUNC_STALL_ENV "TOUCHPOINTD_TEST_TRUNCATE_STALL"

static void s_truncate_stall(tp_journal_t *j, const char *sql) {
    const char *arm = getenv(TRUNC_STALL_ENV);
    char        path[4096], err[128];
    FILE       *f;
    if (!arm || !(f = fopen(arm, "r")))
        return;
    fclose(f);
    if (s_exec(j->db, "BEGIN IMMEDIATE", err, sizeof err) < 0 ||
        s_exec(j->db, sql, err, sizeof err) < 0)
        return;
    snprintf(path, sizeof path, "%s.stall", arm);
    if ((f = fopen(path, "w")))
        fclose(f);
    for (;;)
        pause();
}

int64_t tp_journal_truncate_now(tp_journal_t *j, int64_t now_ms) {
    uint64_t upto = atomic_load(&j->trunc_upto);
    int64_t  keep = atomic_load(&j->trunc_keep_ms);
    if (upto <= j->trunc_done)
        return 0;
    char sql[160], err[128];
    snprintf(sql, sizeof sql, "DELETE FROM events WHERE seq <= %llu AND processed_at < %lld",
             (unsigned long long)upto, (long long)(keep > 0 ? now_ms - keep : INT64_MAX));
    /* Done (or given up) either way: the writer must not spin on it. */
    j->trunc_done = upto;
    s_truncate_stall(j, sql);
    if (s_exec(j->db, sql, err, sizeof err) < 0)
        return -EIO;
    return sqlite3_changes(j->db);
}

int64_t tp_journal_prune_events(tp_journal_t *j, int64_t now_ms, int64_t max_age_ms) {
    char sql[192], err[128];
    /* The newest record stays: the log must always know how far it went
     * (snapshots name positions in it). */
    snprintf(sql, sizeof sql,
             "DELETE FROM events WHERE processed_at < %lld"
             " AND seq < (SELECT MAX(seq) FROM events)",
             (long long)(now_ms - max_age_ms));
    if (max_age_ms <= 0 || s_exec(j->db, sql, err, sizeof err) < 0)
        return max_age_ms <= 0 ? 0 : -EIO;
    return sqlite3_changes(j->db);
}

size_t tp_journal_pending(const tp_journal_t *j) {
    return (size_t)(j->appended - atomic_load_explicit(&j->done, memory_order_acquire));
}

int tp_journal_commit_range(tp_journal_t *j, uint64_t from, uint64_t to, uint64_t *ret_last,
                            uint64_t *ret_records, char *err, size_t errlen) {
    /* BUSY here is the checkpointer truncating the WAL (it holds the
     * write lock for that): nothing failed, the caller tries again soon. */
    if (s_step(j->begin) != SQLITE_DONE)
        return s_fail(j->db, err, errlen);
    uint64_t last = atomic_load_explicit(&j->last_seq, memory_order_relaxed), n = 0;
    int      r;
    for (uint64_t pos = from; pos < to;) {
        const tp_jrec_t *rec = (const tp_jrec_t *)(j->ring + pos % j->ring_size);
        pos += rec->size;
        if (rec->kind == REC_PAD)
            continue;
        const char   *topic = (const char *)(rec + 1);
        const char   *id = topic + rec->topic_len + 1;
        const void   *body = rec->kind == REC_ALERT ? id + rec->id_len + 1 : id;
        sqlite3_stmt *st;
        if (rec->kind == REC_ALERT) {
            st = j->insert;
            sqlite3_bind_int64(st, 1, (sqlite3_int64)rec->seq);
            sqlite3_bind_int64(st, 2, rec->at_ms);
            sqlite3_bind_text(st, 3, topic, (int)rec->topic_len, SQLITE_STATIC);
            sqlite3_bind_text(st, 4, id, (int)rec->id_len, SQLITE_STATIC);
            sqlite3_bind_int(st, 5, rec->status);
            sqlite3_bind_blob(st, 6, body, (int)rec->body_len, SQLITE_STATIC);
            if (rec->seq > last)
                last = rec->seq;
        } else {
            st = j->log_event;
            sqlite3_bind_int64(st, 1, (sqlite3_int64)rec->seq);
            sqlite3_bind_int(st, 2, rec->status);
            sqlite3_bind_int64(st, 3, rec->at_ms);
            sqlite3_bind_text(st, 4, topic, (int)rec->topic_len, SQLITE_STATIC);
            sqlite3_bind_blob(st, 5, body, (int)rec->body_len, SQLITE_STATIC);
        }
        if (s_step(st) != SQLITE_DONE)
            goto rollback;
        n++;
    }
    /* No meta row here: the last sequence is the newest alert row's (one
     * page less per commit, a third of the WAL a small commit writes). */
    if (s_step(j->commit) != SQLITE_DONE)
        goto rollback;
    atomic_store_explicit(&j->last_seq, last, memory_order_relaxed);
    *ret_last = last;
    *ret_records = n;
    return 0;
rollback:
    r = s_fail(j->db, err, errlen);
    sqlite3_exec(j->db, "ROLLBACK", NULL, NULL, NULL);
    return r;
}

int tp_journal_commit(tp_journal_t *j, char *err, size_t errlen) {
    if (j->w_running)
        return -EINVAL;
    uint64_t from = atomic_load_explicit(&j->head, memory_order_relaxed), last, n;
    if (from == j->wpos)
        return 0;
    int r = tp_journal_commit_range(j, from, j->wpos, &last, &n, err, errlen);
    if (r < 0)
        return r;
    atomic_store_explicit(&j->pub, j->wpos, memory_order_relaxed);
    atomic_store_explicit(&j->head, j->wpos, memory_order_release);
    atomic_fetch_add_explicit(&j->done, n, memory_order_release);
    j->visible_seq = last;
    j->w_prog.committed = j->wpos;
    j->w_prog.last_seq = last;
    j->w_prog.commits++;
    return 0;
}

int64_t tp_journal_prune(tp_journal_t *j, int64_t now_ms, int64_t max_age_ms, uint64_t max_alerts) {
    char     sql[256], err[128];
    int64_t  deleted = 0;
    uint64_t last = atomic_load_explicit(&j->last_seq, memory_order_relaxed);
    /* Deleting may take the newest alert row, which is where the last
     * sequence is read from at open: meta keeps it first. */
    if (max_age_ms > 0 || max_alerts > 0) {
        sqlite3_bind_int64(j->set_last, 1, (sqlite3_int64)last);
        if (s_step(j->set_last) != SQLITE_DONE)
            return -EIO;
    }
    if (max_age_ms > 0) {
        snprintf(sql, sizeof sql, "DELETE FROM alerts WHERE written_at < %lld",
                 (long long)(now_ms - max_age_ms));
        if (s_exec(j->db, sql, err, sizeof err) < 0)
            return -EIO;
        deleted += sqlite3_changes(j->db);
    }
    if (max_alerts > 0 && last > max_alerts) {
        snprintf(sql, sizeof sql, "DELETE FROM alerts WHERE seq <= %llu",
                 (unsigned long long)(last - max_alerts));
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
    sqlite3_bind_int64(st, 2, (sqlite3_int64)j->visible_seq);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)limit);
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
    if (sqlite3_prepare_v2(j->rdb, "SELECT count(*), coalesce(min(seq), 0) FROM alerts", -1, &st,
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
    tp_journal_stop_writer(j);
    tp_journal_stop_checkpointer(j);
    sqlite3_finalize(j->insert);
    sqlite3_finalize(j->log_event);
    sqlite3_finalize(j->set_last);
    sqlite3_finalize(j->begin);
    sqlite3_finalize(j->commit);
    sqlite3_finalize(j->read_after);
    sqlite3_close(j->db);
    sqlite3_close(j->rdb);
    pthread_cond_destroy(&j->ckpt_wake);
    pthread_mutex_destroy(&j->ckpt_lock);
    pthread_cond_destroy(&j->w_wake);
    pthread_cond_destroy(&j->w_space);
    pthread_mutex_destroy(&j->w_lock);
    free(j->ring);
    free(j->wal_path);
    free(j);
    *p = NULL;
}
