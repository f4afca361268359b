/* tp_state — where state is kept: the calls the daemon knows about.
 *
 * One hash table per subject kind, keyed by its id (calls by call_id here;
 * contracting cases and HCP windows join it with their rules). The engine
 * applies each event here first, then hands the resulting record to the
 * rules, so every rule sees the same, latest version of a subject.
 *
 * "The latest version wins": a call version replaces the one held only if
 * its Envelope.occurred_at_ms is not older, so a correction that overtakes
 * its original on the bus is not undone by the original arriving late. A
 * SUBMITTED call is never taken back to PLANNED or SAVED (CRMs lock a
 * submitted call); a correction is another SUBMITTED version.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "tp_hash.h"
#include "tp_timers.h"

#include "tp_contract.h"

typedef struct tp_call {
    uint64_t    hash;       /* XXH3 of call_id: its place in the state's index */
    int64_t     version_ms; /* occurred_at_ms of the version held */
    int64_t     call_at_ms;
    int64_t     submitted_at_ms;
    tp_timer_t  retention;       /* when the engine forgets it (tp_timer_due: 0 = not armed) */
    uint8_t     status;          /* CallStatus */
    uint8_t     channel;         /* Channel */
    uint16_t    present;         /* TP_FIELD_* mask of fields that carry data */
    bool        ever_submitted;  /* a SUBMITTED version has been applied */
    bool        first_submitted; /* the version held is the first SUBMITTED one */
    uint16_t    event_id_cap;    /* bytes allocated at event_id (reused by the next version) */
    const char *hcp_id;          /* these four are shared copies (tp_intern): */
    const char *rep_id;          /* many calls name the same HCP, rep, */
    const char *account_id;      /* account and territory */
    const char *territory;
    char       *event_id; /* the event that carried this version */
    char        call_id[];
} tp_call_t;

typedef struct tp_state tp_state_t;

/* An empty state into *ret. 0 or -ENOMEM. */
int tp_state_new(tp_state_t **ret);

/* TP_FIELD_* mask of the fields of `c` that carry data: a non-empty list
 * with at least one non-blank item, a string that is not blank. */
unsigned tp_call_present_fields(const Touchpoint__V1__CallLogged *c);

/* Applies one version of a call. Returns 1 if it is now the version held,
 * 0 if it was older than the one held (ignored), -ENOMEM. *ret_call gets
 * the record in both non-error cases (owned by the state). */
int tp_state_apply_call(tp_state_t *s, const Touchpoint__V1__CallLogged *c, const char *event_id,
                        int64_t version_ms, tp_call_t **ret_call);

/* When a call was submitted: submitted_at_ms, or the version's
 * occurred_at_ms where the CRM leaves it empty. */
static inline int64_t tp_call_submitted_at(const tp_call_t *call) {
    return call->submitted_at_ms > 0 ? call->submitted_at_ms : call->version_ms;
}

tp_call_t *tp_state_find_call(tp_state_t *s, const char *call_id);

/* Removes and frees a call record. */
void tp_state_forget_call(tp_state_t *s, tp_call_t *call);

size_t tp_state_calls(const tp_state_t *s);

/* Frees the state and every call in it; accepts NULL and a half-built
 * state; sets *p to NULL. */
void tp_state_destroy(tp_state_t **p);

/* Snapshot section (tp_snapio): every call and its retention deadline
 * (armed again in `t`). Load into an empty state: 0 or negative errno. */
#include "tp_snapio.h"
void tp_state_save(const tp_state_t *s, tp_snapw_t *w);
int  tp_state_load(tp_state_t *s, tp_timers_t *t, tp_snapr_t *r);
