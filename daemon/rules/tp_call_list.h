/* tp_call_list — an HCP's latest calls, by call_at, at most `max` of them.
 *
 * channel_mismatch (the last N submitted calls, for their channels) and
 * uncoordinated_contact (the calls of the window, for their reps) keep the
 * same list per HCP: a correction of a call_id replaces its entry, a
 * cancellation removes it, a new call goes in call_at order and pushes the
 * oldest out when the list is full (a call older than all of a full list
 * is not kept). Storage grows with the list, up to max entries.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tp_state.h"

typedef struct {
    int64_t     call_at_ms;
    char       *call_id; /* owned: "call_id\0rep_id\0" */
    const char *rep_id;  /* in call_id's allocation; "" unless the list keeps reps */
    uint8_t     channel; /* Channel */
} tp_call_ref_t;

typedef struct {
    tp_call_ref_t *v; /* by call_at, oldest first */
    uint8_t        n;
    uint8_t        cap;
    uint8_t        max;  /* set by the owner, 1..255 */
    bool           reps; /* set by the owner: keep each call's rep_id */
} tp_call_list_t;

/* Index of call_id in the list, or -1. */
int tp_call_list_find(const tp_call_list_t *l, const char *call_id);

/* Removes entry i. */
void tp_call_list_remove(tp_call_list_t *l, size_t i);

/* Puts the version `call` in call_at order (after equal times): a new
 * entry if i < 0, else in place of entry i (its call_id, as
 * tp_call_list_find found it; the entry's copy of the ids is kept when
 * they have not changed). 0 (also when a new call is older than all of a
 * full list and not kept) or -ENOMEM. */
int tp_call_list_put(tp_call_list_t *l, const tp_call_t *call, int i);

/* Frees every entry and the storage; max stays. */
void tp_call_list_clear(tp_call_list_t *l);

/* Snapshot (tp_snapio): the entries, oldest first. Load into an empty
 * list whose owner has set max and reps: a list saved longer than max now
 * keeps its newest max. 0 or negative errno. */
#include "tp_snapio.h"
void tp_call_list_save(const tp_call_list_t *l, tp_snapw_t *w);
int  tp_call_list_load(tp_call_list_t *l, tp_snapr_t *r);
