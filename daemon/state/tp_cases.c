/* tp_cases — see tp_cases.h. */
#include "tp_cases.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tp_intern.h"
#include "tp_str.h"

struct tp_cases {
    tp_case_t   *cases;       /* uthash head, keyed by contract_id */
    tp_intern_t *hcps;        /* HCPs with open cases; the references are the open cases */
    uint32_t     max_per_hcp; /* 0 = no limit */
};

int tp_cases_new(tp_cases_t **ret) {
    tp_cases_t *cs = calloc(1, sizeof *cs);
    if (!cs)
        return -ENOMEM;
    int r = tp_intern_new(&cs->hcps);
    if (r < 0) {
        tp_cases_destroy(&cs);
        return r;
    }
    *ret = cs;
    return 0;
}

void tp_cases_set_max_open_per_hcp(tp_cases_t *cs, uint32_t max) {
    cs->max_per_hcp = max;
}

/* Counts an open case against the HCP of its opening event: one more
 * reference to the HCP's id, dropped when the case closes or goes. */
static int s_hcp_count(tp_cases_t *cs, tp_case_t *c, const char *hcp_id) {
    if (!(c->counted = tp_intern_get(cs->hcps, hcp_id)))
        return -ENOMEM;
    return 0;
}

static void s_hcp_uncount(tp_cases_t *cs, tp_case_t *c) {
    tp_intern_put(cs->hcps, c->counted);
    c->counted = NULL;
}

tp_case_t *tp_cases_find(tp_cases_t *cs, const char *contract_id) {
    tp_case_t *c;
    HASH_FIND_STR(cs->cases, contract_id, c);
    return c;
}

tp_step_t *tp_case_step(tp_case_t *c, const char *name) {
    for (unsigned i = 0; i < c->n_steps; i++)
        if (strcmp(c->steps[i].name, name) == 0)
            return &c->steps[i];
    return NULL;
}

static void s_case_free(tp_case_t *c) {
    for (unsigned i = 0; i < c->n_steps; i++) {
        free(c->steps[i].name);
        free(c->steps[i].owner_id);
    }
    unsigned kept = c->n_owners < TP_CASE_MAX_OWNERS ? c->n_owners : TP_CASE_MAX_OWNERS;
    for (unsigned i = 0; i < kept; i++)
        free(c->owners[i]);
    free(c->owners);
    free(c->steps);
    free(c->hcp_id);
    free(c->rep_id);
    free(c->event_id);
    free(c);
}

/* Replaces *dst with a copy of a non-empty src; keeps *dst otherwise. */
static int s_set(char **dst, const char *src) {
    return src && *src ? tp_str_set(dst, src) : 0;
}

/* 1 if the owner is new to the case, 0 if known or empty, -ENOMEM. */
static int s_add_owner(tp_case_t *c, const char *owner) {
    if (!owner || !*owner)
        return 0;
    unsigned kept = c->n_owners < TP_CASE_MAX_OWNERS ? c->n_owners : TP_CASE_MAX_OWNERS;
    for (unsigned i = 0; i < kept; i++)
        if (strcmp(c->owners[i], owner) == 0)
            return 0;
    if (kept < TP_CASE_MAX_OWNERS) {
        if (kept == c->cap_owners) {
            unsigned cap = c->cap_owners ? 2u * c->cap_owners : 4u;
            char   **o = realloc(c->owners, cap * sizeof *o);
            if (!o)
                return -ENOMEM;
            c->owners = o;
            c->cap_owners = (uint8_t)cap;
        }
        if (!(c->owners[kept] = strdup(owner)))
            return -ENOMEM;
    }
    c->n_owners++;
    return 1;
}

int tp_cases_apply(tp_cases_t *cs, const Touchpoint__V1__ContractingStep *s, const char *event_id,
                   tp_step_change_t *ret) {
    tp_step_change_t ch = { 0 };
    tp_case_t       *c = tp_cases_find(cs, s->contract_id);
    if (!c) {
        /* A flood of made-up contracts for one HCP must not grow state
         * without bound; real HCPs have a handful open at a time. */
        if (cs->max_per_hcp && !s->case_closed &&
            tp_intern_refs(cs->hcps, s->hcp_id) >= cs->max_per_hcp)
            return -EDQUOT;
        size_t len = strlen(s->contract_id);
        c = calloc(1, sizeof *c + len + 1);
        if (!c)
            return -ENOMEM;
        memcpy(c->contract_id, s->contract_id, len + 1);
        c->opened_at_ms = s->at_ms;
        c->last_step_ms = s->at_ms;
        ch.opened = true;
    }
    tp_step_t *st = tp_case_step(c, s->step);
    int        r = 0;
    if (!st) {
        if (c->n_steps == TP_CASE_MAX_STEPS) {
            r = -E2BIG;
            goto fail;
        }
        if (c->n_steps == c->cap_steps) {
            unsigned   cap = c->cap_steps ? 2u * c->cap_steps : 4u;
            tp_step_t *steps = realloc(c->steps, cap * sizeof *steps);
            if (!steps) {
                r = -ENOMEM;
                goto fail;
            }
            c->steps = steps;
            c->cap_steps = (uint8_t)cap;
        }
        st = &c->steps[c->n_steps];
        *st = (tp_step_t){ 0 };
        if (!(st->name = strdup(s->step))) {
            r = -ENOMEM;
            goto fail;
        }
        c->n_steps++;
    }
    if (s_set(&c->hcp_id, s->hcp_id) < 0 || s_set(&c->rep_id, s->rep_id) < 0 ||
        s_set(&c->event_id, event_id) < 0) {
        r = -ENOMEM;
        goto fail;
    }
    r = s_add_owner(c, s->owner_id);
    if (r < 0)
        goto fail;
    ch.new_owner = r == 1;
    if (s->contract_type)
        c->contract_type = (uint8_t)s->contract_type;
    if (s->hcp_action)
        c->hcp_actions++;
    if (s->state == TOUCHPOINT__V1__STEP_STATE__STEP_STATE_RETURNED)
        st->returns++;
    if (s->at_ms < c->opened_at_ms)
        c->opened_at_ms = s->at_ms;
    if (s->at_ms > c->last_step_ms)
        c->last_step_ms = s->at_ms;

    ch.prev_state = st->state;
    if (st->state == 0 || s->at_ms >= st->last_at_ms) {
        ch.state_changed = true;
        st->state = (uint8_t)s->state;
        st->last_at_ms = s->at_ms;
        if (s->state == TOUCHPOINT__V1__STEP_STATE__STEP_STATE_STARTED)
            st->started_at_ms = s->at_ms;
        if (s_set(&st->owner_id, s->owner_id) < 0) {
            r = -ENOMEM;
            goto fail;
        }
    }
    if (s->case_closed && !c->closed) {
        c->closed = true;
        c->closed_at_ms = s->at_ms;
        c->cancelled = s->state == TOUCHPOINT__V1__STEP_STATE__STEP_STATE_CANCELLED;
        ch.closed_now = true;
    }
    if (ch.opened && !c->closed && s_hcp_count(cs, c, s->hcp_id) < 0) {
        r = -ENOMEM;
        goto fail;
    }
    if (ch.closed_now)
        s_hcp_uncount(cs, c);
    if (ch.opened) {
        HASH_ADD_KEYPTR(hh, cs->cases, c->contract_id, strlen(c->contract_id), c);
    }
    ch.kase = c;
    ch.step = st;
    *ret = ch;
    return 0;
fail:
    /* A half-applied event on an existing case leaves counters that are
     * still true facts; a new case is dropped whole. */
    if (ch.opened)
        s_case_free(c);
    return r;
}

void tp_case_owner_list(const tp_case_t *c, char *buf, size_t len) {
    size_t   off = 0;
    unsigned kept = c->n_owners < TP_CASE_MAX_OWNERS ? c->n_owners : TP_CASE_MAX_OWNERS;
    if (len)
        buf[0] = '\0';
    for (unsigned i = 0; i < kept && tp_str_list_add(buf, len, &off, c->owners[i]) == 0; i++)
        continue;
}

void tp_cases_forget(tp_cases_t *cs, tp_case_t *c) {
    s_hcp_uncount(cs, c);
    HASH_DEL(cs->cases, c);
    s_case_free(c);
}

size_t tp_cases_count(const tp_cases_t *cs) {
    return HASH_COUNT(cs->cases);
}

void tp_cases_destroy(tp_cases_t **p) {
    tp_cases_t *cs = p ? *p : NULL;
    if (!cs)
        return;
    /* The HCP table goes whole: no need to drop each case's reference. */
    tp_case_t *c, *tmp;
    TP_HASH_DRAIN(cs->cases, c, tmp)
    s_case_free(c);
    tp_intern_destroy(&cs->hcps);
    free(cs);
    *p = NULL;
}
