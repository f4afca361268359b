/* friction.hcp_burden — too many asks of the HCP on one contract.
 *
 * Each step event with hcp_action is one ask of the HCP (sign this, send
 * that); a repeated ask counts again. tp_cases counts them; the rule fires
 * on the hcp_action event that takes the count past
 * rules.hcp_burden.max_hcp_actions (default 4). Subject "contract/<id>".
 * The count never goes down, so the alert resolves only when the case
 * closes ("case closed"). Nothing fires for a closed case.
 *
 * Private state, so the evidence can say what was asked: per open contract
 * with an ask, the step names of its first ASKS_MAX asks in arrival order
 * (uthash by contract_id). An entry is dropped when its case closes, and a
 * deadline keyed by the contract_id, just after the case's retention,
 * drops it (and resolves a FIRING "expired") when the engine forgets a
 * case that never closed. So the rule holds at most one small entry per
 * case the engine holds.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tp_clock.h"
#include "tp_codec.h"
#include "tp_rule_index.h"
#include "tp_rules.h"
#include "tp_str.h"

#define RULE          "hcp_burden"
#define ASKS_MAX      16                  /* step names kept per contract */
#define SUBJECT_MAX   (9 + TP_ID_MAX + 1) /* contract/<id> */
#define ASKS_TEXT_MAX (ASKS_MAX * (TP_ID_MAX + 1) + 32)

/* Per contract (tp_rule_index, by contract_id). */
typedef struct {
    uint8_t n_asks;
    char   *asks[ASKS_MAX]; /* step names, arrival order */
} s_case_t;

static bool s_enabled(const tp_config_t *cfg) {
    return cfg->hcp_burden.enabled;
}

static void s_case_clear(void *rec) {
    s_case_t *e = rec;
    for (unsigned i = 0; i < e->n_asks; i++)
        free(e->asks[i]);
}

/* The rule's state is its per-contract index. */
static int s_init(const tp_rule_ctx_t *ctx, void **ret_state) {
    (void)ctx;
    return tp_rule_index_new(sizeof(s_case_t), s_case_clear, (tp_rule_index_t **)ret_state);
}

static void s_drop(tp_rule_index_t *cases, const tp_rule_ctx_t *ctx, s_case_t *e) {
    tp_rule_cancel(ctx, tp_rule_index_id(e));
    tp_rule_index_drop(cases, e);
}

/* Records one ask; the entry (created with its cleanup deadline) or NULL
 * when out of memory (the alert then lists fewer asks). */
static s_case_t *s_record(tp_rule_index_t *cases, const tp_rule_ctx_t *ctx, const tp_case_t *c,
                          const char *step) {
    bool      created;
    s_case_t *e = tp_rule_index_get(cases, c->contract_id, &created);
    if (!e)
        return NULL;
    if (created && tp_rule_arm(ctx, c->contract_id, tp_rule_case_forget_at(ctx->cfg, c) + 1) < 0) {
        tp_rule_index_drop(cases, e);
        return NULL;
    }
    if (e->n_asks < ASKS_MAX && (e->asks[e->n_asks] = strdup(step)))
        e->n_asks++;
    return e;
}

/* "A,B,C" and, when more asks were made than are kept, ",... (+N more)". */
static void s_asks_text(const s_case_t *e, uint32_t total, char *buf, size_t len) {
    size_t   off = 0;
    unsigned n = e ? e->n_asks : 0;
    buf[0] = '\0';
    for (unsigned i = 0; i < n && off < len; i++) {
        int w = snprintf(buf + off, len - off, "%s%s", i ? "," : "", e->asks[i]);
        if (w < 0)
            return;
        off += (size_t)w;
    }
    if (total > n && off < len)
        snprintf(buf + off, len - off, "%s... (+%u more)", n ? "," : "", (unsigned)(total - n));
}

static void s_fire(const tp_rule_ctx_t *ctx, const tp_event_t *ev, const s_case_t *e,
                   const char *subject) {
    const tp_case_t *c = ev->step->kase;
    char             summary[768], asks[ASKS_TEXT_MAX], count[16], max[16], opened_at[32];
    s_asks_text(e, c->hcp_actions, asks, sizeof asks);
    snprintf(count, sizeof count, "%u", (unsigned)c->hcp_actions);
    snprintf(max, sizeof max, "%u", ctx->cfg->hcp_burden.max_hcp_actions);
    tp_format_time(c->opened_at_ms, opened_at, sizeof opened_at);
    const char *type = tp_contract_type_name(c->contract_type);
    snprintf(summary, sizeof summary,
             "HCP %s has been asked for something %s times on %s contract %s (more than %s); "
             "the latest ask: %s.",
             c->hcp_id ? c->hcp_id : "?", count, type, c->contract_id, max,
             ev->env->contracting->step);
    const tp_kv_t evidence[] = {
        { "hcp_actions", count },  { "max_hcp_actions", max },      { "asks", asks },
        { "contract_type", type }, { "case_opened_at", opened_at },
    };
    tp_rule_fire_case(ctx, RULE, c, NULL, subject, summary, evidence,
                      sizeof evidence / sizeof evidence[0], ev->env->event_id);
}

static void s_resolve_expired(const tp_rule_ctx_t *ctx, const char *contract_id) {
    char subject[SUBJECT_MAX];
    TP_STR_JOIN(subject, sizeof subject, "contract/", contract_id);
    tp_rule_resolve_case_expired(ctx, RULE, subject, contract_id, "HCP burden alert");
}

static void s_on_event(void *state, const tp_rule_ctx_t *ctx, const tp_event_t *ev) {
    tp_rule_index_t        *cases = state;
    const tp_step_change_t *ch = ev->step;
    if (!ch)
        return;
    const tp_case_t *c = ch->kase;
    s_case_t        *e = tp_rule_index_find(cases, c->contract_id);
    if (ch->opened && e) {
        /* Left by an earlier case of this id that the engine forgot a
         * moment ago (our deadline runs 1 ms after it). */
        s_resolve_expired(ctx, c->contract_id);
        s_drop(cases, ctx, e);
        e = NULL;
    }
    char subject[SUBJECT_MAX];
    TP_STR_JOIN(subject, sizeof subject, "contract/", c->contract_id);
    if (ch->closed_now) {
        char detail[64 + TP_ID_MAX];
        snprintf(detail, sizeof detail, " after %u asks of HCP %s", (unsigned)c->hcp_actions,
                 c->hcp_id ? c->hcp_id : "?");
        tp_rule_resolve_case_closed(ctx, RULE, subject, c, detail, ev->env->event_id);
    }
    if (c->closed) {
        if (e)
            s_drop(cases, ctx, e);
        return;
    }
    if (!ev->env->contracting->hcp_action)
        return;
    e = s_record(cases, ctx, c, ev->env->contracting->step);
    if (c->hcp_actions > ctx->cfg->hcp_burden.max_hcp_actions)
        s_fire(ctx, ev, e, subject); /* a no-op while it is FIRING already */
}

/* The case's retention has passed: if the case is gone, drop the entry
 * (and the FIRING); else follow its (moved) retention. */
static void s_on_deadline(void *state, const tp_rule_ctx_t *ctx, const tp_deadline_t *d) {
    tp_rule_index_t *cases = state;
    const char      *contract_id = tp_deadline_key(d);
    s_case_t        *e = tp_rule_index_find(cases, contract_id);
    if (!e)
        return;
    if (tp_rule_case_follow(ctx, contract_id, contract_id, d->timer.due_ms))
        return;
    s_resolve_expired(ctx, contract_id);
    s_drop(cases, ctx, e);
}

/* Snapshot: every contract's asks. */
static void s_case_save(const void *rec, tp_snapw_t *w) {
    const s_case_t *e = rec;
    tp_snapw_u64(w, e->n_asks);
    for (unsigned i = 0; i < e->n_asks; i++)
        tp_snapw_str(w, e->asks[i]);
}

static int s_case_load(void *rec, tp_snapr_t *r, void *arg) {
    (void)arg;
    s_case_t *e = rec;
    uint64_t  n = 0;
    int       k = tp_snapr_u64(r, &n);
    if (k < 0)
        return k;
    if (n > ASKS_MAX)
        return -EBADMSG;
    for (; e->n_asks < n; e->n_asks++)
        if ((k = tp_snapr_str(r, 4096, &e->asks[e->n_asks])) < 0 || !e->asks[e->n_asks])
            return k < 0 ? k : -EBADMSG;
    return 0;
}

static void s_save(const void *state, tp_snapw_t *w) {
    tp_rule_index_save(state, w, s_case_save);
}

static int s_load(void *state, const tp_rule_ctx_t *ctx, tp_snapr_t *r) {
    (void)ctx;
    return tp_rule_index_load(state, r, s_case_load, NULL);
}

const tp_rule_t tp_rule_hcp_burden = {
    .name = RULE,
    .description = "more than max_hcp_actions (4) asks of the HCP on one contract",
    .kind = TOUCHPOINT__V1__ALERT_KIND__ALERT_KIND_FRICTION,
    .events = TP_EV_CONTRACTING,
    .enabled = s_enabled,
    .init = s_init,
    .on_event = s_on_event,
    .on_deadline = s_on_deadline,
    .free = tp_rule_index_free,
    .save = s_save,
    .load = s_load,
};
