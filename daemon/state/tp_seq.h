/* tp_seq — per-source sequence tracking: detects gaps (lost events).
 *
 * Each producer numbers its events 1, 2, 3, ... in Envelope.sequence (0
 * means "unsequenced" and is not tracked). A jump is a gap: events were lost
 * between the producer and us. Going back to 1 is a producer restart; any
 * other step back is a regression (reordering or a resend). At most
 * max_sources sources are tracked, so a peer inventing source names cannot
 * grow memory without bound.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

typedef enum {
    TP_SEQ_OK = 0,      /* next in line (or the first seen from this source) */
    TP_SEQ_UNSEQUENCED, /* sequence 0: not tracked */
    TP_SEQ_GAP,         /* skipped ahead; *ret_missing events never arrived */
    TP_SEQ_RESTART,     /* back to 1: the producer restarted */
    TP_SEQ_REGRESSION,  /* at or below the last seen, not 1 */
    TP_SEQ_FULL,        /* new source, but max_sources are tracked already */
} tp_seq_result_t;

typedef struct tp_seq tp_seq_t;

/* A tracker of at most `max_sources` sources into *ret. 0 or -ENOMEM. */
int tp_seq_new(size_t max_sources, tp_seq_t **ret);

/* Records `seq` for `source`. *ret_missing (may be NULL) gets the number of
 * skipped sequence numbers for TP_SEQ_GAP, else 0. -ENOMEM is returned as a
 * negative value. */
int tp_seq_observe(tp_seq_t *s, const char *source, uint64_t seq, uint64_t *ret_missing);

/* Last sequence seen from `source`, 0 if unknown. */
uint64_t tp_seq_last(const tp_seq_t *s, const char *source);

size_t tp_seq_sources(const tp_seq_t *s);

/* Frees the tracker; accepts NULL; sets *p to NULL. */
void tp_seq_destroy(tp_seq_t **p);

/* Snapshot section (tp_snapio): every source's last sequence. Load into an
 * empty tracker: 0 or negative errno. */
#include "tp_snapio.h"
void tp_seq_save(const tp_seq_t *s, tp_snapw_t *w);
int  tp_seq_load(tp_seq_t *s, tp_snapr_t *r);
