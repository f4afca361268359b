/* tp_journal_writer — the journal's writer thread and the ring the event
 * loop fills for it (see tp_journal.h and tp_journal_internal.h).
 *
 * Why a thread: a commit is a few hundred microseconds to tens of ms
 * (write(2) of the WAL pages, a wait for the checkpointer's TRUNCATE), and
 * done on the loop it sat in front of every event behind it (bench_e2e,
 * 50k events/s: p99 receive -> alert 7 ms with the journal, 1.8 ms
 * without). On its own thread the loop only copies records into the ring;
 * the writer commits whatever was handed over while it committed the last
 * batch, so batches grow with the load, and tells the loop on an eventfd.
 *
 * Synchronisation: the ring's positions are atomics (the loop writes
 * records then stores pub with release; the writer loads pub with acquire,
 * commits, stores head with release). The loop wakes the writer only when
 * it sleeps (w_idle), so a busy writer costs the loop no system call; both
 * sides use sequentially consistent order for w_idle and pub, so one of
 * them always sees the other's store and no wake-up is lost. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "tp_clock.h"
#include "tp_journal_internal.h"
#include "tp_log.h"

#define RETRY_MS         1000   /* after a failed commit */
#define BUSY_WAIT_MS     1000   /* the writer waits this long for the write lock */
#define BUSY_STEP_US     200    /* trying again this often */
#define TRUNCATE_WAIT_US 100000 /* at most, while the checkpointer empties the WAL */
#define LULL_MS          200    /* without records, before the writer cuts an emptied WAL */

static uint64_t s_free(const tp_journal_t *j) {
    return j->ring_size - (j->wpos - atomic_load_explicit(&j->head, memory_order_acquire));
}

/* Publishes up to pos and wakes the writer if it sleeps. */
static void s_publish(tp_journal_t *j, uint64_t pos) {
    atomic_store(&j->pub, pos);
    if (atomic_load(&j->w_idle)) {
        pthread_mutex_lock(&j->w_lock);
        pthread_cond_signal(&j->w_wake);
        pthread_mutex_unlock(&j->w_lock);
    }
}

/* The ring is full: publish the whole units written so far and wait for
 * the writer to release room. The loop reads no input meanwhile: that is
 * the back-pressure (ZeroMQ queues, then the producers' HWM). */
static int s_wait_room(tp_journal_t *j, uint64_t need) {
    if (!j->w_running)
        return -ENOBUFS;
    if (atomic_load_explicit(&j->pub, memory_order_relaxed) < j->unit_end)
        s_publish(j, j->unit_end);
    pthread_mutex_lock(&j->w_lock);
    j->w_waiters++;
    int r = 0;
    while (s_free(j) < need) {
        /* Everything published is committed and there is still no room:
         * the unit being written fills the ring by itself. */
        if (atomic_load(&j->head) >= atomic_load(&j->pub) || j->w_stop) {
            r = -ENOBUFS;
            break;
        }
        pthread_cond_wait(&j->w_space, &j->w_lock);
    }
    j->w_waiters--;
    pthread_mutex_unlock(&j->w_lock);
    return r;
}

tp_jrec_t *tp_journal_reserve(tp_journal_t *j, size_t size, int *ret_err) {
    size_t off = (size_t)(j->wpos % j->ring_size), tail = j->ring_size - off;
    if (tail < size) {
        /* Does not fit before the end: pad to the start (a pad record
         * needs 8 bytes; every record and the ring are multiples of 8). */
        int r = s_free(j) < tail ? s_wait_room(j, tail) : 0;
        if (r < 0) {
            *ret_err = r;
            return NULL;
        }
        tp_jrec_t *pad = (tp_jrec_t *)(j->ring + off);
        pad->size = (uint32_t)tail;
        pad->kind = REC_PAD;
        j->wpos += tail;
        off = 0;
    }
    if (s_free(j) < size) {
        int r = s_wait_room(j, size);
        if (r < 0) {
            *ret_err = r;
            return NULL;
        }
    }
    return (tp_jrec_t *)(j->ring + off);
}

/* Retention on the writer's connection, at most once per prune_every_ms;
 * a failure (the checkpointer busy, say) is tried after the next commit. */
static void s_prune(tp_journal_t *j) {
    /* Behind the oldest snapshot kept, as soon as it is asked: that is
     * what keeps the log (and the disk) bounded. One DELETE, one
     * transaction: a crash in it leaves the log as it was. A failure is
     * not retried until the next snapshot asks again (the next one is
     * further on anyway). */
    int64_t t = tp_journal_truncate_now(j, tp_realtime_ms());
    if (t < 0)
        log_warning_errno((int)t, "Failed to truncate the event log behind the snapshots: %m");
    int64_t now = tp_monotonic_ms();
    pthread_mutex_lock(&j->w_lock);
    bool     due = now - j->last_prune_ms >= j->prune_every_ms;
    int64_t  age = j->retention_ms, ev_age = j->event_retention_ms;
    uint64_t max = j->max_alerts;
    pthread_mutex_unlock(&j->w_lock);
    if (!due)
        return;
    int64_t n = tp_journal_prune(j, tp_realtime_ms(), age, max);
    if (n >= 0)
        n = tp_journal_prune_events(j, tp_realtime_ms(), ev_age);
    if (n >= 0)
        j->last_prune_ms = now;
    else if ((sqlite3_errcode(j->db) & 0xff) != SQLITE_BUSY)
        log_warning_errno((int)n, "Failed to prune the alert journal: %m");
}

/* SQLite's own busy handler sleeps 1, 2, 5 ... 100 ms between tries, so a
 * lock released after 3 ms was taken after 8: alerts waited for the sleep.
 * Tries every BUSY_STEP_US instead, for up to BUSY_WAIT_MS. */
static int s_busy(void *ctx, int n) {
    (void)ctx;
    if ((int64_t)n * BUSY_STEP_US >= BUSY_WAIT_MS * 1000)
        return 0;
    usleep(BUSY_STEP_US);
    return 1;
}

/* now + ms on CLOCK_REALTIME (the condition variables' clock). */
static void s_deadline(struct timespec *ret, int64_t ms) {
    clock_gettime(CLOCK_REALTIME, ret);
    int64_t ns = ret->tv_nsec + (ms % 1000) * 1000000;
    ret->tv_sec += (time_t)(ms / 1000 + ns / 1000000000);
    ret->tv_nsec = ns % 1000000000;
}

/* The checkpointer restarted an oversized WAL from its beginning; the file
 * keeps its size until this cuts it to nothing. Cutting a file of tens of
 * MB takes 20-40 ms here (ext4), all of it under the write lock: done by
 * the checkpointer (a TRUNCATE), every commit meanwhile waited for it.
 * Done here, only after LULL_MS without a record, it delays nothing that
 * was waiting, and at most what arrives while it runs. Failing (a reader
 * in the way) it is tried at the next lull. */
static void s_shrink(tp_journal_t *j) {
    sqlite3_busy_handler(j->db, NULL, NULL); /* busy: not a lull after all */
    if (sqlite3_wal_checkpoint_v2(j->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL) == SQLITE_OK)
        atomic_store(&j->shrink, false);
    sqlite3_busy_handler(j->db, s_busy, NULL);
}

static void *s_writer(void *arg) {
    tp_journal_t *j = arg;
    char          err[sizeof j->w_prog.err];
    for (;;) {
        pthread_mutex_lock(&j->w_lock);
        atomic_store(&j->w_idle, true);
        bool            lull = false, timed = false;
        struct timespec until;
        while (!j->w_stop && atomic_load(&j->pub) == atomic_load(&j->head) &&
               atomic_load(&j->trunc_upto) <= j->trunc_done && !lull) {
            if (!atomic_load(&j->shrink)) {
                pthread_cond_wait(&j->w_wake, &j->w_lock);
                continue;
            }
            if (!timed) /* the lull counts from here */
                s_deadline(&until, LULL_MS);
            timed = true;
            lull = pthread_cond_timedwait(&j->w_wake, &j->w_lock, &until) == ETIMEDOUT;
        }
        atomic_store(&j->w_idle, false);
        bool stop = j->w_stop;
        pthread_mutex_unlock(&j->w_lock);
        if (lull && !stop) {
            s_shrink(j);
            continue;
        }
        uint64_t from = atomic_load_explicit(&j->head, memory_order_relaxed);
        uint64_t to = atomic_load_explicit(&j->pub, memory_order_acquire);
        if (from == to) {
            if (stop)
                break;
            s_prune(j); /* a truncation asked while idle */
            continue;
        }
        /* The checkpointer emptying an oversized WAL: let it have the lock
         * (it waits up to 100 ms for it; this waits as long at most). */
        for (int i = 0; atomic_load(&j->truncating) && i < TRUNCATE_WAIT_US / BUSY_STEP_US; i++)
            usleep(BUSY_STEP_US);
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        uint64_t last = 0, n = 0;
        int      r = tp_journal_commit_range(j, from, to, &last, &n, err, sizeof err);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        pthread_mutex_lock(&j->w_lock);
        tp_journal_progress_t *p = &j->w_prog;
        if (r >= 0) {
            atomic_fetch_add_explicit(&j->done, n, memory_order_release);
            atomic_store_explicit(&j->head, to, memory_order_release);
            p->committed = to;
            p->last_seq = last;
            p->commits++;
            p->failing = false;
            p->last_seconds =
                (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
        } else {
            p->failures++;
            p->failing = true;
            snprintf(p->err, sizeof p->err, "%s", err);
        }
        if (j->w_waiters)
            pthread_cond_broadcast(&j->w_space);
        pthread_mutex_unlock(&j->w_lock);
        uint64_t one = 1;
        if (write(j->w_efd, &one, sizeof one) < 0) { /* EAGAIN: already readable */
        }
        if (r >= 0) {
            s_prune(j);
            continue;
        }
        if (stop)
            break; /* shutting down with a failing disk: give up */
        /* Retried a second later (or at once when asked to stop). */
        s_deadline(&until, RETRY_MS);
        pthread_mutex_lock(&j->w_lock);
        while (!j->w_stop && pthread_cond_timedwait(&j->w_wake, &j->w_lock, &until) != ETIMEDOUT)
            ;
        pthread_mutex_unlock(&j->w_lock);
    }
    return NULL;
}

int tp_journal_start_writer(tp_journal_t *j, size_t max_record, char *err, size_t errlen) {
    if (j->w_running)
        return 0;
    /* Room for a bus message (with its alerts) four times over. */
    size_t want = (4 * (max_record + 4096) + 7) & ~(size_t)7;
    if (want > j->ring_size && j->wpos == atomic_load(&j->head)) {
        unsigned char *ring = aligned_alloc(8, want);
        if (!ring) {
            snprintf(err, errlen, "out of memory for a journal ring of %zu bytes", want);
            return -ENOMEM;
        }
        free(j->ring);
        j->ring = ring;
        j->ring_size = want;
        j->wpos = j->unit_end = 0;
        atomic_store(&j->pub, 0);
        atomic_store(&j->head, 0);
    }
    j->w_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (j->w_efd < 0) {
        snprintf(err, errlen, "eventfd: %s", strerror(errno));
        return -errno;
    }
    /* Its waits for the checkpointer happen on its thread. */
    sqlite3_busy_handler(j->db, s_busy, NULL);
    j->last_prune_ms = tp_monotonic_ms();
    atomic_store(&j->writer_shrinks, true);
    int r = pthread_create(&j->w_thread, NULL, s_writer, j);
    if (r != 0) {
        atomic_store(&j->writer_shrinks, false);
        snprintf(err, errlen, "writer thread: %s", strerror(r));
        close(j->w_efd);
        j->w_efd = -1;
        return -r;
    }
    j->w_running = true;
    return 0;
}

void tp_journal_stop_writer(tp_journal_t *j) {
    if (j->w_running) {
        pthread_mutex_lock(&j->w_lock);
        j->w_stop = true;
        pthread_cond_signal(&j->w_wake);
        pthread_cond_broadcast(&j->w_space);
        pthread_mutex_unlock(&j->w_lock);
        pthread_join(j->w_thread, NULL);
        j->w_running = false;
        atomic_store(&j->writer_shrinks, false);
    }
    if (j->w_efd >= 0)
        close(j->w_efd);
    j->w_efd = -1;
}

int tp_journal_fd(const tp_journal_t *j) {
    return j->w_efd;
}

uint64_t tp_journal_submit(tp_journal_t *j) {
    if (j->w_running && atomic_load_explicit(&j->pub, memory_order_relaxed) != j->wpos)
        s_publish(j, j->wpos);
    return j->wpos;
}

uint64_t tp_journal_committed(const tp_journal_t *j) {
    return atomic_load_explicit(&j->head, memory_order_acquire);
}

void tp_journal_progress(tp_journal_t *j, tp_journal_progress_t *ret) {
    uint64_t n;
    if (j->w_efd >= 0 && read(j->w_efd, &n, sizeof n) < 0) { /* EAGAIN: nothing new */
    }
    pthread_mutex_lock(&j->w_lock);
    *ret = j->w_prog;
    pthread_mutex_unlock(&j->w_lock);
    j->visible_seq = ret->last_seq > j->visible_seq ? ret->last_seq : j->visible_seq;
}

int tp_journal_drain(tp_journal_t *j, int64_t timeout_ms) {
    uint64_t to = tp_journal_submit(j);
    if (!j->w_running)
        return atomic_load(&j->head) == to ? 0 : -EIO;
    struct timespec until;
    s_deadline(&until, timeout_ms);
    pthread_mutex_lock(&j->w_lock);
    uint64_t failures = j->w_prog.failures;
    int      r = 0;
    j->w_waiters++;
    while (j->w_prog.committed < to) {
        if (j->w_prog.failures != failures) {
            r = -EIO;
            break;
        }
        if (pthread_cond_timedwait(&j->w_space, &j->w_lock, &until) == ETIMEDOUT) {
            r = j->w_prog.committed < to ? -ETIMEDOUT : 0;
            break;
        }
    }
    j->w_waiters--;
    pthread_mutex_unlock(&j->w_lock);
    return r;
}

void tp_journal_set_retention(tp_journal_t *j, int64_t retention_ms, uint64_t max_alerts,
                              int64_t event_retention_ms) {
    pthread_mutex_lock(&j->w_lock);
    j->retention_ms = retention_ms;
    j->max_alerts = max_alerts;
    j->event_retention_ms = event_retention_ms;
    pthread_mutex_unlock(&j->w_lock);
}
