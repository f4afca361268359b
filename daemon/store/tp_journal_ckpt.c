/* tp_journal_ckpt — the journal's WAL checkpointer thread: its own
 * connection, a PASSIVE checkpoint every checkpoint interval and a
 * RESTART past the WAL's limit (see tp_journal.h).
 *
 * A checkpoint syncs the WAL, copies frames into journal.db and syncs
 * that, holding WAL locks throughout that a commit beginning meanwhile
 * waits for (bench_e2e, 50k events/s on a loaded 2-core machine: the
 * writer's BEGIN waited 50-150 ms once a second, almost all of it those
 * two fsyncs). So a pass does the syncs itself, outside SQLite's locks:
 *  1. a read transaction on guard_db: its snapshot (frames up to M) is all
 *     the pass may copy (a checkpoint never passes a reader's mark), and
 *     while it is open no commit starts the WAL over (overwrites it);
 *  2. fdatasync the WAL: every frame up to M is durable;
 *  3. PASSIVE checkpoint with synchronous=OFF: copies (write(2) only);
 *  4. fdatasync journal.db: what was copied is durable;
 *  5. end the read transaction: the WAL may start over.
 * The order SQLite keeps (WAL durable before copying; database durable
 * before the WAL is reused) is kept; only who calls fsync changed. */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "tp_journal_internal.h"
#include "tp_log.h"

#define CATCHUP_PASSES 4   /* at most, before a RESTART */
#define CATCHUP_FRAMES 256 /* what a RESTART may be left to copy (1 MB of 4 KB pages) */

static uint64_t s_file_size(const char *path) {
    struct stat sb;
    return path && stat(path, &sb) == 0 ? (uint64_t)sb.st_size : 0;
}

/* fdatasync of fd, or of the file at path (opened for it) if fd < 0. */
static int s_sync(const char *path, int fd) {
    int own = -1;
    if (fd < 0 && (fd = own = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return -errno;
    int r = fdatasync(fd) < 0 ? -errno : 0;
    if (own >= 0)
        close(own);
    return r;
}

/* Steps 1-5 above. SQLITE_OK, SQLITE_BUSY (the guard's snapshot was the
 * whole WAL already copied, or a writer in the way: next round) or an
 * error. */
static int s_passive(tp_journal_t *j, int *ret_log, int *ret_ckpt) {
    if (sqlite3_exec(j->guard_db, "BEGIN; SELECT count(*) FROM meta", NULL, NULL, NULL) !=
        SQLITE_OK) {
        int rc = sqlite3_errcode(j->guard_db); /* BUSY: next round, not an error */
        sqlite3_exec(j->guard_db, "ROLLBACK", NULL, NULL, NULL);
        return rc;
    }
    int rc = SQLITE_IOERR;
    if (s_sync(j->wal_path, -1) == 0) {
        rc = sqlite3_wal_checkpoint_v2(j->ckpt_db, NULL, SQLITE_CHECKPOINT_PASSIVE, ret_log,
                                       ret_ckpt);
        if (rc == SQLITE_OK && *ret_log < 0)
            rc = SQLITE_ERROR; /* "not in WAL mode": it did nothing */
        if (rc == SQLITE_OK && s_sync(j->wal_path, j->db_fd) < 0)
            rc = SQLITE_IOERR;
    }
    sqlite3_exec(j->guard_db, "COMMIT", NULL, NULL, NULL);
    return rc;
}

/* One checkpoint round. PASSIVE never blocks the writer (or readers): it
 * copies what it can and leaves the rest. Under a sustained flood it never
 * catches up (each commit lands while it copies), so the WAL is never
 * restarted from its beginning and only grows; past wal_max_bytes a
 * RESTART (or TRUNCATE) copies the rest and starts the WAL over. That one
 * holds the write lock while it copies what the passes left (little),
 * with SQLite's own syncs: the writer thread waits for it (about 2 ms at
 * 50k events/s), the event loop does not. */
static void s_checkpoint(tp_journal_t *j, uint64_t wal_max) {
    int  nlog = 0, nckpt = 0;
    int  rc = s_passive(j, &nlog, &nckpt);
    bool truncated = false;
    if (rc == SQLITE_OK && wal_max > 0 && s_file_size(j->wal_path) > wal_max) {
        /* The RESTART syncs and copies, under the write lock, whatever
         * the pass left: what was committed while it synced a second's
         * WAL (tens of MB at 50k events/s, a 50 ms stop of the writer).
         * More passes first, without the lock, while each leaves less. */
        for (int i = 0; i < CATCHUP_PASSES && rc == SQLITE_OK && nlog - nckpt > CATCHUP_FRAMES;
             i++) {
            int left = nlog - nckpt;
            rc = s_passive(j, &nlog, &nckpt);
            if (rc == SQLITE_OK && nlog - nckpt >= left)
                break; /* not gaining on the writer */
        }
    }
    if (rc == SQLITE_OK && wal_max > 0 && s_file_size(j->wal_path) > wal_max) {
        /* The WAL synced now, outside the lock: the RESTART's own sync
         * then has only the last few commits to write. */
        s_sync(j->wal_path, -1);
        /* Under a flood the writer is nearly always in a transaction and
         * takes the lock again within 200 us: it steps aside meanwhile. */
        atomic_store(&j->truncating, true);
        sqlite3_exec(j->ckpt_db, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL);
        /* With a writer thread: RESTART (the next commit writes from the
         * file's start) and the writer cuts the file in a lull, because
         * cutting tens of MB is 20-40 ms of the write lock (ext4). Without
         * one nobody waits: TRUNCATE at once. */
        bool by_writer = atomic_load(&j->writer_shrinks);
        rc = sqlite3_wal_checkpoint_v2(
            j->ckpt_db, NULL, by_writer ? SQLITE_CHECKPOINT_RESTART : SQLITE_CHECKPOINT_TRUNCATE,
            &nlog, &nckpt);
        sqlite3_exec(j->ckpt_db, "PRAGMA synchronous=OFF", NULL, NULL, NULL);
        atomic_store(&j->truncating, false);
        truncated = rc == SQLITE_OK;
        if (truncated && by_writer) { /* an idle writer starts counting the lull */
            pthread_mutex_lock(&j->w_lock);
            atomic_store(&j->shrink, true);
            pthread_cond_signal(&j->w_wake);
            pthread_mutex_unlock(&j->w_lock);
        }
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

int tp_journal_start_checkpointer(tp_journal_t *j, const char *path, char *err, size_t errlen) {
    if (sqlite3_open_v2(path, &j->ckpt_db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
            SQLITE_OK ||
        sqlite3_open_v2(path, &j->guard_db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
            SQLITE_OK) {
        sqlite3 *db = j->guard_db ? j->guard_db : j->ckpt_db;
        snprintf(err, errlen, "checkpoint connection: %s",
                 db ? sqlite3_errmsg(db) : "out of memory");
        return -EIO;
    }
    if ((j->db_fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -errno;
    }
    /* Its own waits (for a reader, for the writer's commit) happen on its
     * own thread; the event loop's connection has no busy handler. */
    sqlite3_busy_timeout(j->ckpt_db, 100);
    /* A connection learns that the database is in WAL mode on its first
     * read; until then a checkpoint on it does nothing and says SQLITE_OK. */
    if (sqlite3_exec(j->ckpt_db, "PRAGMA synchronous=OFF; SELECT count(*) FROM meta", NULL, NULL,
                     NULL) != SQLITE_OK) {
        snprintf(err, errlen, "checkpoint connection: %s", sqlite3_errmsg(j->ckpt_db));
        return -EIO;
    }
    j->wal.last_caught_up_ms = tp_monotonic_ms();
    int r = pthread_create(&j->ckpt_thread, NULL, s_checkpointer, j);
    if (r != 0) {
        snprintf(err, errlen, "checkpoint thread: %s", strerror(r));
        return -r;
    }
    j->ckpt_running = true;
    return 0;
}

void tp_journal_stop_checkpointer(tp_journal_t *j) {
    if (j->ckpt_running) {
        pthread_mutex_lock(&j->ckpt_lock);
        j->ckpt_stop = true;
        pthread_cond_signal(&j->ckpt_wake);
        pthread_mutex_unlock(&j->ckpt_lock);
        pthread_join(j->ckpt_thread, NULL);
        j->ckpt_running = false;
    }
    sqlite3_close(j->ckpt_db);
    sqlite3_close(j->guard_db);
    j->ckpt_db = j->guard_db = NULL;
    if (j->db_fd >= 0)
        close(j->db_fd);
    j->db_fd = -1;
}

void tp_journal_set_checkpoint(tp_journal_t *j, int64_t every_ms, uint64_t wal_max_bytes) {
    pthread_mutex_lock(&j->ckpt_lock);
    j->ckpt_every_ms = every_ms > 0 ? every_ms : CHECKPOINT_EVERY_MS;
    j->wal_max_bytes = wal_max_bytes;
    pthread_cond_signal(&j->ckpt_wake);
    pthread_mutex_unlock(&j->ckpt_lock);
}

void tp_journal_wal_stats(tp_journal_t *j, tp_journal_wal_t *ret) {
    pthread_mutex_lock(&j->ckpt_lock);
    *ret = j->wal;
    pthread_mutex_unlock(&j->ckpt_lock);
    ret->wal_bytes = s_file_size(j->wal_path);
}
