/* tp_snapshot — snapshot files: the engine's state at a known event-log
 * position, so a restart loads the newest good one and replays only the
 * log after it.
 *
 * What goes in is a list of sections (Fluent Bit style): each a tag and
 * save/load callbacks over tp_snapio, registered by the process wiring
 * (engine state, KPI state, ...). This module only knows files:
 *
 *   <dir>/snapshot-<position, 20 digits>.tpsnap
 *   header (48 bytes, little-endian): magic "TPSNAP\r\n", format version
 *   (u32), flags (u32, 0), log position (u64), body length (u64), body
 *   XXH3-64 (u64), header XXH3-64 over the 40 bytes before it (u64);
 *   then the body: for each section its tag (varint) and its bytes.
 *
 * Atomic: written to <name>.tmp, fsync'd, and renamed into place (then the
 * directory fsync'd) only by tp_snapshot_commit, which the daemon calls
 * once the event log durably holds every event up to the position: a
 * snapshot whose events were never committed would put their ids in the
 * dedup window, and the producer's resend of them would then be dropped.
 * A reader checks the header, the length and the checksum of the whole
 * body before any section sees a byte; a bad file is -EBADMSG, another
 * format version -EPROTO, and the caller tries the one before it.
 *
 * Writing without stalling the loop: tp_snapshot_fork writes in a fork()ed
 * child (copy-on-write pages, as Redis's BGSAVE). The child only walks
 * memory and calls write(2)/fsync(2): no libevent, ZeroMQ, SQLite, locks
 * or threads (the parent's other threads do not exist in it), and it
 * leaves with _exit. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "tp_snapio.h"

#define TP_SNAPSHOT_FORMAT 1

typedef struct tp_snapshot_section {
    uint32_t    tag;  /* TP_SNAP_TAG(...), also the section's name in logs */
    const char *name; /* "engine" */
    void (*save)(void *ctx, tp_snapw_t *w);
    int (*load)(void *ctx, tp_snapr_t *r);
    void *ctx;
} tp_snapshot_section_t;

/* Writes <dir>/snapshot-<pos>.tmp (fsync'd, not renamed) from the
 * sections. 0 (ret_size: the file's bytes, may be NULL) or -errno. */
int tp_snapshot_write(const char *dir, uint64_t pos, const tp_snapshot_section_t *sections,
                      size_t n, uint64_t *ret_size);

/* The same in a fork()ed child; the parent gets its pid (reap it with
 * waitpid; it exits 0 on success) and a pidfd that becomes readable when
 * it exits (-1 if the kernel has none: poll waitpid). 0 or -errno. */
int tp_snapshot_fork(const char *dir, uint64_t pos, const tp_snapshot_section_t *sections, size_t n,
                     pid_t *ret_pid, int *ret_pidfd);

/* Renames <dir>/snapshot-<pos>.tmp into place and fsyncs the directory. */
int tp_snapshot_commit(const char *dir, uint64_t pos);

/* Removes <dir>/snapshot-<pos>.tmp (a failed or abandoned write). */
void tp_snapshot_discard(const char *dir, uint64_t pos);

/* The positions of the snapshots in dir, newest first, into a malloc'd
 * array (*ret, NULL if none) of *ret_n. With remove_tmp, leftover .tmp
 * files (a write a crash interrupted) are deleted. 0 or -errno. */
int tp_snapshot_list(const char *dir, bool remove_tmp, uint64_t **ret, size_t *ret_n);

/* Deletes all but the newest `keep` snapshots. Returns the position of
 * the oldest one kept (0 if none), or -errno. */
int64_t tp_snapshot_prune(const char *dir, size_t keep);

/* Loads snapshot `pos`: checks header, length and checksum, then runs
 * each section's load in order (the file must hold exactly these
 * sections). 0, -ENOENT, -EBADMSG (corrupt, truncated, wrong checksum),
 * -EPROTO (another format, or other sections), or what a load returned.
 * ret_size (may be NULL): the file's bytes. */
int tp_snapshot_load(const char *dir, uint64_t pos, const tp_snapshot_section_t *sections, size_t n,
                     uint64_t *ret_size);
