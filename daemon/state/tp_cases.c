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

/* Snapshot: every case in insertion order (the order the table walks),
 * its steps, owners, the HCP it counts against and its retention. */
#define CASES_SNAP_VERSION 1
#define ID_MAX             4096

void tp_cases_save(const tp_cases_t *cs, tp_snapw_t *w) {
    tp_snapw_section(w, TP_SNAP_TAG('C', 'A', 'S', 'E'), CASES_SNAP_VERSION);
    tp_snapw_u64(w, HASH_COUNT(cs->cases));
    for (const tp_case_t *c = cs->cases; c; c = c->hh.next) {
        tp_snapw_str(w, c->contract_id);
        tp_snapw_str(w, c->hcp_id);
        tp_snapw_str(w, c->rep_id);
        tp_snapw_str(w, c->event_id);
        tp_snapw_str(w, c->counted);
        tp_snapw_i64(w, c->opened_at_ms);
        tp_snapw_i64(w, c->last_step_ms);
        tp_snapw_i64(w, c->closed_at_ms);
        tp_snapw_u64(w, c->hcp_actions);
        tp_snapw_u64(w, c->n_owners);
        tp_snapw_u64(w, c->contract_type);
        tp_snapw_bool(w, c->closed);
        tp_snapw_bool(w, c->cancelled);
        tp_timers_save_timer(&c->retention, w);
        tp_snapw_u64(w, c->n_steps);
        for (unsigned i = 0; i < c->n_steps; i++) {
            const tp_step_t *st = &c->steps[i];
            tp_snapw_str(w, st->name);
            tp_snapw_str(w, st->owner_id);
            tp_snapw_i64(w, st->started_at_ms);
            tp_snapw_i64(w, st->last_at_ms);
            tp_snapw_u64(w, st->returns);
            tp_snapw_u64(w, st->state);
        }
        unsigned kept = c->n_owners < TP_CASE_MAX_OWNERS ? c->n_owners : TP_CASE_MAX_OWNERS;
        for (unsigned i = 0; i < kept; i++)
            tp_snapw_str(w, c->owners[i]);
    }
}

/* A string field: NULL stays NULL. */
static int s_load_str(tp_snapr_t *r, char **dst) {
    return tp_snapr_str(r, ID_MAX, dst);
}

static int s_load_case(tp_cases_t *cs, tp_timers_t *t, tp_snapr_t *r) {
    char id[ID_MAX], counted[ID_MAX];
    int  k = tp_snapr_strbuf(r, id, sizeof id);
    if (k < 0)
        return k;
    size_t     len = strlen(id);
    tp_case_t *c = calloc(1, sizeof *c + len + 1);
    if (!c)
        return -ENOMEM;
    memcpy(c->contract_id, id, len + 1);
    uint64_t actions = 0, owners = 0, type = 0, n_steps = 0;
    int      has_counted = 0;
    if ((k = s_load_str(r, &c->hcp_id)) < 0 || (k = s_load_str(r, &c->rep_id)) < 0 ||
        (k = s_load_str(r, &c->event_id)) < 0 ||
        (has_counted = k = tp_snapr_strbuf(r, counted, sizeof counted)) < 0)
        goto fail;
    tp_snapr_i64(r, &c->opened_at_ms);
    tp_snapr_i64(r, &c->last_step_ms);
    tp_snapr_i64(r, &c->closed_at_ms);
    tp_snapr_u64(r, &actions);
    tp_snapr_u64(r, &owners);
    tp_snapr_u64(r, &type);
    tp_snapr_bool(r, &c->closed);
    tp_snapr_bool(r, &c->cancelled);
    c->hcp_actions = (uint32_t)actions;
    c->n_owners = (uint32_t)owners;
    c->contract_type = (uint8_t)type;
    if ((k = tp_timers_load_timer(t, &c->retention, r)) < 0 || (k = tp_snapr_u64(r, &n_steps)) < 0)
        goto fail;
    k = -EBADMSG;
    if (n_steps > TP_CASE_MAX_STEPS)
        goto fail;
    k = -ENOMEM;
    if (n_steps && !(c->steps = calloc(n_steps, sizeof *c->steps)))
        goto fail;
    c->cap_steps = (uint8_t)n_steps;
    while (c->n_steps < n_steps) {
        tp_step_t *st = &c->steps[c->n_steps++]; /* from here freed with the case */
        uint64_t   returns = 0, state = 0;
        if ((k = s_load_str(r, &st->name)) < 0 || (k = s_load_str(r, &st->owner_id)) < 0)
            goto fail;
        tp_snapr_i64(r, &st->started_at_ms);
        tp_snapr_i64(r, &st->last_at_ms);
        tp_snapr_u64(r, &returns);
        tp_snapr_u64(r, &state);
        st->returns = (uint32_t)returns;
        st->state = (uint8_t)state;
        if (!st->name) {
            k = -EBADMSG;
            goto fail;
        }
    }
    unsigned kept = c->n_owners < TP_CASE_MAX_OWNERS ? c->n_owners : TP_CASE_MAX_OWNERS;
    k = -ENOMEM;
    if (kept && !(c->owners = calloc(kept, sizeof *c->owners)))
        goto fail;
    c->cap_owners = (uint8_t)kept;
    for (unsigned i = 0; i < kept; i++)
        if ((k = s_load_str(r, &c->owners[i])) < 0 || !c->owners[i]) {
            k = k < 0 ? k : -EBADMSG;
            goto fail;
        }
    if ((k = tp_snapr_error(r)) < 0)
        goto fail;
    if (has_counted == 0 && (k = s_hcp_count(cs, c, counted)) < 0)
        goto fail;
    HASH_ADD_KEYPTR(hh, cs->cases, c->contract_id, len, c);
    return 0;
fail:
    tp_timers_cancel_timer(t, &c->retention);
    /* Owners not read yet are NULL; free(NULL) is fine. */
    c->n_owners = c->owners ? c->n_owners : 0;
    s_case_free(c);
    return k;
}

int tp_cases_load(tp_cases_t *cs, tp_timers_t *t, tp_snapr_t *r) {
    uint64_t n = 0;
    int      k = tp_snapr_section(r, TP_SNAP_TAG('C', 'A', 'S', 'E'), CASES_SNAP_VERSION, NULL);
    if (k < 0 || (k = tp_snapr_u64(r, &n)) < 0)
        return k;
    for (uint64_t i = 0; i < n; i++)
        if ((k = s_load_case(cs, t, r)) < 0)
            return k;
    return 0;
}
