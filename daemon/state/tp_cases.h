/* tp_cases — where contracting state is kept: one record per contract.
 *
 * A case is tracked from its first step event to case_closed (or its
 * cancellation): its steps (state, current attempt start, returns, owner),
 * the distinct internal owners the HCP has dealt with, the asks made of the
 * HCP, and when it opened, last moved and closed. The engine applies each
 * ContractingStep here first and hands the resulting change to the
 * friction rules; the engine forgets a case limits.case_retention after it
 * closed, or limits.open_case_horizon after its last step if it never does.
 *
 * Step events are facts, applied in arrival order: every RETURNED counts,
 * every hcp_action counts, every owner is remembered. Only the step's state
 * follows time: an event older than the step's latest one does not change
 * its state (a COMPLETED that overtook its STARTED stays COMPLETED).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "tp_hash.h"
#include "tp_timers.h"

#include "tp_contract.h"

#define TP_CASE_MAX_STEPS  32 /* distinct step names kept per case */
#define TP_CASE_MAX_OWNERS 32 /* distinct owners kept per case (counted beyond) */

typedef struct tp_step {
    char    *name;          /* "FMV_REVIEW" */
    char    *owner_id;      /* owner of the latest event for this step */
    int64_t  started_at_ms; /* start of the current attempt, 0 if never started */
    int64_t  last_at_ms;    /* time of the latest event for this step */
    uint32_t returns;       /* RETURNED events */
    uint8_t  state;         /* StepState of the latest event */
} tp_step_t;

typedef struct tp_case {
    UT_hash_handle hh;
    char          *hcp_id;
    char          *rep_id;
    char          *event_id;      /* the latest event applied */
    int64_t        opened_at_ms;  /* earliest step time seen */
    int64_t        last_step_ms;  /* latest step time seen */
    int64_t        closed_at_ms;  /* 0 while open */
    tp_timer_t     retention;     /* when the engine forgets it (tp_timer_due: 0 = not armed) */
    uint32_t       hcp_actions;   /* step events with hcp_action */
    uint32_t       n_owners;      /* distinct owners, may exceed what is kept */
    uint8_t        contract_type; /* ContractType */
    bool           closed;
    bool           cancelled; /* closed by a CANCELLED step */
    uint8_t        n_steps;
    uint8_t        cap_steps;
    uint8_t        cap_owners;
    const char    *counted; /* the HCP this open case counts against, NULL once closed */
    tp_step_t     *steps;   /* grown as steps appear (most cases have < 10) */
    char         **owners;  /* first-seen order, at most TP_CASE_MAX_OWNERS kept */
    char           contract_id[];
} tp_case_t;

/* What one applied step event changed, for the rules. */
typedef struct {
    tp_case_t *kase;          /* the case after the event */
    tp_step_t *step;          /* the step the event was about */
    uint8_t    prev_state;    /* that step's state before, 0 if it is new */
    bool       state_changed; /* the step's state follows this event */
    bool       new_owner;     /* the event's owner was not seen on this case before */
    bool       opened;        /* the event created the case */
    bool       closed_now;    /* the event closed the case */
} tp_step_change_t;

typedef struct tp_cases tp_cases_t;

/* An empty set of cases into *ret. 0 or -ENOMEM. */
int tp_cases_new(tp_cases_t **ret);

/* At most `max` open cases per HCP (0 = no limit); see -EDQUOT below. */
void tp_cases_set_max_open_per_hcp(tp_cases_t *cs, uint32_t max);

/* Applies one step event (validated by the codec). Returns 0 and fills
 * *ret, -ENOMEM, -E2BIG when the case already has TP_CASE_MAX_STEPS
 * distinct steps and this one is new, or -EDQUOT when the event would open
 * a case for an HCP that has the maximum open already (the event is then
 * not applied). */
int tp_cases_apply(tp_cases_t *cs, const Touchpoint__V1__ContractingStep *s, const char *event_id,
                   tp_step_change_t *ret);

tp_case_t *tp_cases_find(tp_cases_t *cs, const char *contract_id);

/* The step `name` of a case, or NULL. Valid until the next tp_cases_apply. */
tp_step_t *tp_case_step(tp_case_t *c, const char *name);

/* Owners as "a,b,c" into buf. */
void tp_case_owner_list(const tp_case_t *c, char *buf, size_t len);

void   tp_cases_forget(tp_cases_t *cs, tp_case_t *c);
size_t tp_cases_count(const tp_cases_t *cs);
/* Frees every case; accepts NULL and a half-built set; sets *p to NULL. */
void tp_cases_destroy(tp_cases_t **p);

/* Snapshot section (tp_snapio): every case and its retention deadline
 * (armed again in `t`). Load into an empty set: 0 or negative errno. */
#include "tp_snapio.h"
void tp_cases_save(const tp_cases_t *cs, tp_snapw_t *w);
int  tp_cases_load(tp_cases_t *cs, tp_timers_t *t, tp_snapr_t *r);
