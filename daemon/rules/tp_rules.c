/* tp_rules — the rule registry and the set of enabled rules; see tp_rules.h. */
#include "tp_rules.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tp_clock.h"
#include "tp_log.h"
#include "tp_str.h"

extern const tp_rule_t tp_rule_call_incomplete;
extern const tp_rule_t tp_rule_call_unsubmitted;
extern const tp_rule_t tp_rule_call_late;
extern const tp_rule_t tp_rule_follow_up_missing;
extern const tp_rule_t tp_rule_uncoordinated_contact;
extern const tp_rule_t tp_rule_channel_mismatch;
extern const tp_rule_t tp_rule_step_slow;
extern const tp_rule_t tp_rule_case_stalled;
extern const tp_rule_t tp_rule_rework;
extern const tp_rule_t tp_rule_handoffs;
extern const tp_rule_t tp_rule_hcp_burden;
extern const tp_rule_t tp_rule_cycle_time;
extern const tp_rule_t tp_rule_negative_feedback;

/* Evaluation order is registry order. */
static const tp_rule_t *const s_registry[] = {
    &tp_rule_call_incomplete,
    &tp_rule_call_unsubmitted,
    &tp_rule_call_late,
    &tp_rule_follow_up_missing,
    &tp_rule_uncoordinated_contact,
    &tp_rule_channel_mismatch,
    &tp_rule_step_slow,
    &tp_rule_case_stalled,
    &tp_rule_rework,
    &tp_rule_handoffs,
    &tp_rule_hcp_burden,
    &tp_rule_cycle_time,
    &tp_rule_negative_feedback,
    NULL,
};

#define MAX_RULES (sizeof s_registry / sizeof s_registry[0])

/* Deadline owner ids are registry indexes, so they do not shift when a
 * config enables or disables other rules. */
struct tp_ruleset {
    const tp_rule_t *rules[MAX_RULES]; /* enabled rules, in registry order */
    void            *states[MAX_RULES];
    uint32_t         owner[MAX_RULES]; /* registry index of rules[i] */
    int              slot[MAX_RULES];  /* registry index -> i, or -1 */
    size_t           n;
    /* Run-time rules (tp_ruleset_add), by owner - TP_OWNER_RUNTIME. */
    const tp_rule_t *rt[TP_RULES_MAX_RUNTIME];
    void            *rt_states[TP_RULES_MAX_RUNTIME];
    size_t           n_rt; /* slots below this may be in use */
};

int tp_rule_fire(const tp_rule_ctx_t *ctx, const tp_alert_spec_t *spec, const char *event_id) {
    tp_alert_spec_t s = *spec;
    s.event_ids = &event_id;
    s.n_event_ids = event_id ? 1 : 0;
    return tp_alerts_fire(ctx->alerts, &s, ctx->now_ms);
}

int tp_rule_fire_call(const tp_rule_ctx_t *ctx, const char *rule, Touchpoint__V1__Severity severity,
                      const tp_call_t *call, const char *summary, const tp_kv_t *evidence,
                      size_t n_evidence, const char *event_id) {
    char subject[8 + 128 + 1];
    TP_STR_JOIN(subject, sizeof subject, "call/", call->call_id);
    const tp_alert_spec_t spec = {
        .kind = TOUCHPOINT__V1__ALERT_KIND__ALERT_KIND_ACCOUNTABILITY,
        .rule = rule,
        .subject = subject,
        .severity = severity,
        .hcp_id = call->hcp_id,
        .rep_id = call->rep_id,
        .account_id = call->account_id,
        .territory = call->territory,
        .call_id = call->call_id,
        .summary = summary,
        .evidence = evidence,
        .n_evidence = n_evidence,
    };
    return tp_rule_fire(ctx, &spec, event_id);
}

int tp_rule_fire_case(const tp_rule_ctx_t *ctx, const char *rule, const tp_case_t *c,
                      const char *step, const char *subject, const char *summary,
                      const tp_kv_t *evidence, size_t n_evidence, const char *event_id) {
    const tp_alert_spec_t spec = {
        .kind = TOUCHPOINT__V1__ALERT_KIND__ALERT_KIND_FRICTION,
        .rule = rule,
        .subject = subject,
        .severity = TOUCHPOINT__V1__SEVERITY__SEVERITY_WARNING,
        .hcp_id = c->hcp_id,
        .rep_id = c->rep_id,
        .contract_id = c->contract_id,
        .step = step,
        .summary = summary,
        .evidence = evidence,
        .n_evidence = n_evidence,
    };
    return tp_rule_fire(ctx, &spec, event_id && *event_id ? event_id : NULL);
}

int64_t tp_rule_case_forget_at(const tp_config_t *cfg, const tp_case_t *c) {
    int64_t at = tp_timer_due(&c->retention);
    if (at)
        return at;
    return c->closed ? c->closed_at_ms + cfg->case_retention_ms
                     : c->last_step_ms + cfg->open_case_horizon_ms;
}

bool tp_rule_case_follow(const tp_rule_ctx_t *ctx, const char *key, const char *contract_id,
                         int64_t due_ms) {
    const tp_case_t *c = tp_cases_find(ctx->cases, contract_id);
    if (!c)
        return false;
    int64_t after = tp_rule_case_forget_at(ctx->cfg, c) + 1;
    return after > due_ms && tp_rule_arm(ctx, key, after) == 0;
}

int tp_rule_resolve_case_closed(const tp_rule_ctx_t *ctx, const char *rule, const char *subject,
                                const tp_case_t *c, const char *detail, const char *event_id) {
    char summary[512];
    snprintf(summary, sizeof summary, "Contract %s was %s%s.", c->contract_id,
             c->cancelled ? "cancelled" : "closed", detail);
    const tp_kv_t evidence[] = { { "resolution", "case closed" } };
    return tp_alerts_resolve(ctx->alerts, rule, subject, summary, evidence, 1, event_id,
                             ctx->now_ms);
}

int tp_rule_resolve_case_expired(const tp_rule_ctx_t *ctx, const char *rule, const char *subject,
                                 const char *contract_id, const char *what) {
    char summary[512], horizon[32];
    tp_format_duration(ctx->cfg->open_case_horizon_ms, horizon, sizeof horizon);
    snprintf(summary, sizeof summary,
             "Contract %s had no step event for %s and is no longer tracked; %s closed.",
             contract_id, horizon, what);
    const tp_kv_t evidence[] = { { "resolution", "expired" } };
    return tp_alerts_resolve(ctx->alerts, rule, subject, summary, evidence, 1, NULL, ctx->now_ms);
}

int tp_rule_resolve_fact(const tp_rule_ctx_t *ctx, const char *rule, const char *subject,
                         const char *what, int64_t open_ms) {
    if (!tp_alerts_is_firing(ctx->alerts, rule, subject))
        return 0;
    char summary[256], open_for[32];
    tp_format_duration(open_ms, open_for, sizeof open_for);
    snprintf(summary, sizeof summary, "%s: alert closed after %s.", what, open_for);
    const tp_kv_t evidence[] = { { "resolution", "expired" } };
    return tp_alerts_resolve(ctx->alerts, rule, subject, summary, evidence, 1, NULL, ctx->now_ms);
}

const tp_rule_t *const *tp_rule_registry(void) {
    return s_registry;
}

int tp_ruleset_new(const tp_rule_ctx_t *ctx, tp_ruleset_t **ret) {
    tp_ruleset_t *rs = calloc(1, sizeof *rs);
    if (!rs)
        return -ENOMEM;
    for (size_t i = 0; i < MAX_RULES; i++)
        rs->slot[i] = -1;
    for (const tp_rule_t *const *r = s_registry; *r; r++) {
        uint32_t owner = (uint32_t)(r - s_registry);
        if ((*r)->enabled && !(*r)->enabled(ctx->cfg))
            continue;
        void *state = NULL;
        if ((*r)->init) {
            tp_rule_ctx_t own = *ctx;
            own.owner = owner;
            int e = (*r)->init(&own, &state);
            if (e < 0) {
                tp_ruleset_destroy(&rs);
                return e;
            }
        }
        rs->rules[rs->n] = *r;
        rs->states[rs->n] = state;
        rs->owner[rs->n] = owner;
        rs->slot[owner] = (int)rs->n;
        rs->n++;
    }
    *ret = rs;
    return 0;
}

/* Takes a running rule out: its open alerts resolve (a consumer must not
 * be left with FIRING alerts nothing will ever resolve), its deadlines go. */
static void s_stop(const tp_rule_t *r, void *state, uint32_t owner, const tp_rule_ctx_t *ctx,
                   bool reset) {
    char summary[160];
    snprintf(summary, sizeof summary, "Rule %s was %s by a configuration reload", r->name,
             reset ? "restarted" : "switched off");
    const tp_kv_t ev[] = { { "reason", reset ? "rule_reset" : "rule_disabled" } };
    size_t resolved = tp_alerts_resolve_rule(ctx->alerts, r->name, summary, ev, 1, ctx->now_ms);
    size_t cancelled = tp_timers_cancel_owner(ctx->timers, owner);
    log_info("Rule %s %s: %zu open alerts resolved, %zu deadlines dropped", r->name,
             reset ? "restarted" : "switched off", resolved, cancelled);
    /* Last: a run-time rule's tp_rule_t lives in its state. */
    if (r->free)
        r->free(state);
}

int tp_ruleset_reconfigure(tp_ruleset_t *rs, const tp_rule_ctx_t *ctx, const tp_config_t *old) {
    void *fresh[MAX_RULES] = { 0 };
    bool  on[MAX_RULES] = { 0 }, reset[MAX_RULES] = { 0 };
    /* Instantiate first: if that fails, nothing has changed yet. */
    for (const tp_rule_t *const *r = s_registry; *r; r++) {
        uint32_t owner = (uint32_t)(r - s_registry);
        bool     was = rs->slot[owner] >= 0;
        on[owner] = !(*r)->enabled || (*r)->enabled(ctx->cfg);
        reset[owner] = was && on[owner] && (*r)->needs_reset && (*r)->needs_reset(old, ctx->cfg);
        if (!on[owner] || (was && !reset[owner]) || !(*r)->init)
            continue;
        tp_rule_ctx_t own = *ctx;
        own.owner = owner;
        int e = (*r)->init(&own, &fresh[owner]);
        if (e < 0) {
            for (size_t i = 0; i < owner; i++)
                if (fresh[i] && s_registry[i]->free)
                    s_registry[i]->free(fresh[i]);
            return e;
        }
    }
    tp_ruleset_t next = { .n = 0 };
    for (size_t i = 0; i < MAX_RULES; i++)
        next.slot[i] = -1;
    for (const tp_rule_t *const *r = s_registry; *r; r++) {
        uint32_t owner = (uint32_t)(r - s_registry);
        int      at = rs->slot[owner];
        void    *state = fresh[owner];
        if (at >= 0 && (!on[owner] || reset[owner]))
            s_stop(*r, rs->states[at], owner, ctx, reset[owner]);
        else if (at >= 0)
            state = rs->states[at];
        if (!on[owner])
            continue;
        if (at < 0)
            log_info("Rule %s switched on by a configuration reload", (*r)->name);
        next.rules[next.n] = *r;
        next.states[next.n] = state;
        next.owner[next.n] = owner;
        next.slot[owner] = (int)next.n;
        next.n++;
    }
    /* Run-time rules are their adder's to change (tp_ruleset_add). */
    memcpy(next.rt, rs->rt, sizeof next.rt);
    memcpy(next.rt_states, rs->rt_states, sizeof next.rt_states);
    next.n_rt = rs->n_rt;
    *rs = next;
    return 0;
}

void tp_ruleset_on_event(tp_ruleset_t *rs, const tp_rule_ctx_t *ctx, const tp_event_t *ev) {
    unsigned      bit = 1u << (ev->env->payload_case % 32);
    tp_rule_ctx_t own = *ctx;
    for (size_t i = 0; i < rs->n; i++) {
        if (!(rs->rules[i]->events & bit))
            continue;
        own.owner = rs->owner[i];
        rs->rules[i]->on_event(rs->states[i], &own, ev);
    }
    for (size_t i = 0; i < rs->n_rt; i++) {
        if (!rs->rt[i] || !(rs->rt[i]->events & bit))
            continue;
        own.owner = TP_OWNER_RUNTIME + (uint32_t)i;
        rs->rt[i]->on_event(rs->rt_states[i], &own, ev);
    }
}

int tp_ruleset_on_deadline(tp_ruleset_t *rs, const tp_rule_ctx_t *ctx, const tp_deadline_t *d) {
    uint32_t rt = d->timer.owner - TP_OWNER_RUNTIME;
    if (d->timer.owner >= TP_OWNER_RUNTIME && rt < rs->n_rt) {
        if (!rs->rt[rt] || !rs->rt[rt]->on_deadline)
            return -ENOENT;
        tp_rule_ctx_t own = *ctx;
        own.owner = d->timer.owner;
        rs->rt[rt]->on_deadline(rs->rt_states[rt], &own, d);
        return 0;
    }
    int i = d->timer.owner < MAX_RULES ? rs->slot[d->timer.owner] : -1;
    if (i < 0 || !rs->rules[i]->on_deadline)
        return -ENOENT;
    tp_rule_ctx_t own = *ctx;
    own.owner = d->timer.owner;
    rs->rules[i]->on_deadline(rs->states[i], &own, d);
    return 0;
}

size_t tp_ruleset_describe(const tp_ruleset_t *rs, char *buf, size_t len) {
    size_t off = 0;
    if (len)
        buf[0] = '\0';
    for (size_t i = 0; i < rs->n && off < len; i++) {
        int n = snprintf(buf + off, len - off, "%s%s.%s", i ? " " : "",
                         tp_alert_kind_prefix(rs->rules[i]->kind), rs->rules[i]->name);
        if (n < 0)
            break;
        off += (size_t)n;
    }
    for (size_t i = 0; i < rs->n_rt && off < len; i++) {
        if (!rs->rt[i])
            continue;
        int n = snprintf(buf + off, len - off, "%s%s.%s", off ? " " : "",
                         tp_alert_kind_prefix(rs->rt[i]->kind), rs->rt[i]->name);
        if (n < 0)
            break;
        off += (size_t)n;
    }
    return rs->n;
}

int tp_ruleset_add(tp_ruleset_t *rs, const tp_rule_t *r, void *state, uint32_t owner) {
    uint32_t i = owner - TP_OWNER_RUNTIME;
    if (owner < TP_OWNER_RUNTIME || i >= TP_RULES_MAX_RUNTIME)
        return -EINVAL;
    if (rs->rt[i])
        return -EEXIST;
    rs->rt[i] = r;
    rs->rt_states[i] = state;
    if (i >= rs->n_rt)
        rs->n_rt = i + 1;
    return 0;
}

int tp_ruleset_remove(tp_ruleset_t *rs, const tp_rule_ctx_t *ctx, uint32_t owner) {
    uint32_t i = owner - TP_OWNER_RUNTIME;
    if (owner < TP_OWNER_RUNTIME || i >= rs->n_rt || !rs->rt[i])
        return -ENOENT;
    s_stop(rs->rt[i], rs->rt_states[i], owner, ctx, false);
    rs->rt[i] = NULL;
    rs->rt_states[i] = NULL;
    return 0;
}

void tp_ruleset_destroy(tp_ruleset_t **p) {
    tp_ruleset_t *rs = p ? *p : NULL;
    if (!rs)
        return;
    for (size_t i = rs->n_rt; i-- > 0;)
        if (rs->rt[i] && rs->rt[i]->free)
            rs->rt[i]->free(rs->rt_states[i]);
    for (size_t i = rs->n; i-- > 0;)
        if (rs->rules[i]->free)
            rs->rules[i]->free(rs->states[i]);
    free(rs);
    *p = NULL;
}

/* ---- Snapshots ---- */
#define RULES_SNAP_VERSION 1

/* Calls fn for every running rule of the registry, in order. Run-time
 * rules are saved by whoever added them (the Lua rules: tp_lua_rules_save),
 * matched by name so that a changed list of files never refuses a
 * snapshot. */
typedef int (*s_each_fn)(void *ctx, const tp_rule_t *r, void *state, uint32_t owner);
static int s_each(const tp_ruleset_t *rs, s_each_fn fn, void *ctx) {
    for (size_t i = 0; i < rs->n; i++) {
        int k = fn(ctx, rs->rules[i], rs->states[i], rs->owner[i]);
        if (k)
            return k;
    }
    return 0;
}

static int s_unsaved_cb(void *ctx, const tp_rule_t *r, void *state, uint32_t owner) {
    (void)owner;
    if (state && !r->save) {
        *(const char **)ctx = r->name;
        return 1;
    }
    return 0;
}

const char *tp_ruleset_unsaved(const tp_ruleset_t *rs) {
    const char *name = NULL;
    s_each(rs, s_unsaved_cb, &name);
    return name;
}

static int s_count_cb(void *ctx, const tp_rule_t *r, void *state, uint32_t owner) {
    (void)r, (void)state, (void)owner;
    (*(uint64_t *)ctx)++;
    return 0;
}

static int s_save_cb(void *ctx, const tp_rule_t *r, void *state, uint32_t owner) {
    tp_snapw_t *w = ctx;
    tp_snapw_str(w, r->name);
    tp_snapw_u64(w, owner);
    tp_snapw_bool(w, state && r->save);
    if (state && r->save)
        r->save(state, w);
    return 0;
}

void tp_ruleset_save(const tp_ruleset_t *rs, tp_snapw_t *w) {
    uint64_t n = 0;
    s_each(rs, s_count_cb, &n);
    tp_snapw_section(w, TP_SNAP_TAG('R', 'U', 'L', 'E'), RULES_SNAP_VERSION);
    tp_snapw_u64(w, n);
    s_each(rs, s_save_cb, w);
}

typedef struct {
    tp_snapr_t          *r;
    const tp_rule_ctx_t *ctx;
} s_load_t;

static int s_load_cb(void *arg, const tp_rule_t *rule, void *state, uint32_t owner) {
    s_load_t *l = arg;
    char      name[128];
    uint64_t  saved_owner = 0;
    bool      has = false;
    int       k;
    if ((k = tp_snapr_strbuf(l->r, name, sizeof name)) < 0 ||
        (k = tp_snapr_u64(l->r, &saved_owner)) < 0 || (k = tp_snapr_bool(l->r, &has)) < 0)
        return k;
    if (strcmp(name, rule->name) != 0 || saved_owner != owner || has != (state && rule->save)) {
        log_info("The snapshot was taken with rule %s where %s runs now", name, rule->name);
        return -EPROTO;
    }
    if (!has)
        return 0;
    tp_rule_ctx_t own = *l->ctx;
    own.owner = owner;
    return rule->load(state, &own, l->r);
}

int tp_ruleset_load(tp_ruleset_t *rs, const tp_rule_ctx_t *ctx, tp_snapr_t *r) {
    uint64_t n = 0, running = 0;
    int      k = tp_snapr_section(r, TP_SNAP_TAG('R', 'U', 'L', 'E'), RULES_SNAP_VERSION, NULL);
    if (k < 0 || (k = tp_snapr_u64(r, &n)) < 0)
        return k;
    s_each(rs, s_count_cb, &running);
    if (n != running) {
        log_info("The snapshot was taken with %llu rules running, %llu run now",
                 (unsigned long long)n, (unsigned long long)running);
        return -EPROTO;
    }
    s_load_t l = { r, ctx };
    return s_each(rs, s_load_cb, &l);
}
