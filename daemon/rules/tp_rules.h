/* tp_rules — where rules live: one interface, one registry.
 *
 * A rule family is a plugin (Fluent Bit style): a const tp_rule_t with its
 * name, the payload kinds it wants, and callbacks. Adding a rule is one new
 * file in daemon/rules/accountability/ or daemon/rules/friction/ and one line
 * in s_registry[] (tp_rules.c). The engine updates state first (one switch over payload kinds, in
 * tp_engine.c), then calls every enabled rule that asked for that kind.
 *
 * Rules hold no I/O: they read the event and state, and fire or resolve
 * alerts through ctx->alerts. Time is ctx->now_ms (the daemon's clock);
 * deadlines are derived from event timestamps, never from arrival time.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "tp_alert.h"
#include "tp_cases.h"
#include "tp_config.h"
#include "tp_rule_index.h"
#include "tp_state.h"
#include "tp_stats.h"
#include "tp_timers.h"
#include "tp_snapio.h"

/* Bits for tp_rule_t.events, one per Envelope payload. */
#define TP_EV_CALL        (1u << TOUCHPOINT__V1__ENVELOPE__PAYLOAD_CALL % 32)
#define TP_EV_CONTRACTING (1u << TOUCHPOINT__V1__ENVELOPE__PAYLOAD_CONTRACTING % 32)
#define TP_EV_FEEDBACK    (1u << TOUCHPOINT__V1__ENVELOPE__PAYLOAD_FEEDBACK % 32)
#define TP_EV_WATERMARK   (1u << TOUCHPOINT__V1__ENVELOPE__PAYLOAD_WATERMARK % 32)

typedef struct tp_rule_ctx {
    const tp_config_t *cfg;
    tp_alerts_t       *alerts;
    tp_state_t        *state; /* calls */
    tp_cases_t        *cases; /* contracting cases */
    tp_stats_t        *stats;
    tp_timers_t       *timers;
    int64_t            now_ms; /* the daemon's clock at dispatch */
    uint32_t           owner;  /* the rule's deadline owner id (set by the ruleset) */
} tp_rule_ctx_t;

/* Arms (or moves) this rule's deadline for subject `key`; the rule's
 * on_deadline gets it once the clock passes due_ms. 0 or -ENOMEM. */
static inline int tp_rule_arm(const tp_rule_ctx_t *ctx, const char *key, int64_t due_ms) {
    return tp_timers_arm(ctx->timers, ctx->owner, key, due_ms);
}

/* Disarms this rule's deadline for `key`; 1 if one was armed. */
static inline int tp_rule_cancel(const tp_rule_ctx_t *ctx, const char *key) {
    return tp_timers_cancel(ctx->timers, ctx->owner, key);
}

typedef struct tp_event {
    const Touchpoint__V1__Envelope *env;
    tp_call_t                      *call;    /* crm.call: the call as held after this event */
    bool                            applied; /* false: an older version, state unchanged */
    const tp_step_change_t         *step;    /* crm.contracting: what the step event changed */
    /* crm.call (applied) and crm.feedback: the HCP (the call's as held,
     * the feedback's), hashed once for every per-HCP lookup; s NULL
     * otherwise. */
    tp_key_t hcp;
} tp_event_t;


typedef struct tp_rule {
    const char               *name;        /* "call_incomplete" */
    const char               *description; /* one line, for --help and docs */
    Touchpoint__V1__AlertKind kind;
    unsigned                  events; /* TP_EV_* it wants */
    bool (*enabled)(const tp_config_t *cfg);
    int (*init)(const tp_rule_ctx_t *ctx, void **ret_state); /* optional */
    void (*on_event)(void *state, const tp_rule_ctx_t *ctx, const tp_event_t *ev);
    void (*on_deadline)(void *state, const tp_rule_ctx_t *ctx,
                        const tp_deadline_t *d); /* optional */
    void (*free)(void *state);                   /* optional */
    /* Optional: true if a reload from `old` to `cfg` changes something the
     * rule fixed at init (a buffer size); the rule is then started afresh. */
    bool (*needs_reset)(const tp_config_t *old, const tp_config_t *cfg);
    /* Snapshots (tp_snapio): a rule with private state (init) writes it
     * with save and reads it back into a freshly init'ed state with load
     * (0 or negative errno). A rule that keeps state without them makes
     * the engine's snapshots impossible (tp_ruleset_unsaved): a restart
     * then replays the whole event log. */
    void (*save)(const void *state, tp_snapw_t *w);
    int (*load)(void *state, const tp_rule_ctx_t *ctx, tp_snapr_t *r);
} tp_rule_t;

/* Fires `spec` at ctx->now_ms, caused by event_id (none when it is NULL):
 * how every rule raises an alert, so the causing event is attached one
 * way. spec's event_ids are ignored. Returns what tp_alerts_fire returns. */
int tp_rule_fire(const tp_rule_ctx_t *ctx, const tp_alert_spec_t *spec, const char *event_id);

/* Fires an accountability alert about a call: subject "call/<call_id>",
 * the call's HCP, rep, account, territory and id filled in, caused by
 * `event_id`. Returns what tp_alerts_fire returns. */
int tp_rule_fire_call(const tp_rule_ctx_t *ctx, const char *rule, Touchpoint__V1__Severity severity,
                      const tp_call_t *call, const char *summary, const tp_kv_t *evidence,
                      size_t n_evidence, const char *event_id);

/* Fires a friction alert about a contracting case: the case's HCP, rep
 * and contract id filled in, `step` (may be NULL), severity WARNING,
 * caused by event_id (none if it is NULL or empty). Returns what
 * tp_alerts_fire returns. */
int tp_rule_fire_case(const tp_rule_ctx_t *ctx, const char *rule, const tp_case_t *c,
                      const char *step, const char *subject, const char *summary,
                      const tp_kv_t *evidence, size_t n_evidence, const char *event_id);

/* When the engine forgets case `c`: its retention deadline, or (if the
 * engine could not arm it) the same formula. Rules that watch a FIRING
 * until the case goes arm their deadline 1 ms after it, so it never ties
 * with the engine's. */
int64_t tp_rule_case_forget_at(const tp_config_t *cfg, const tp_case_t *c);

/* A deadline `key` of this rule, due at due_ms just after case
 * contract_id's retention, has come: true if the case is still held and
 * the deadline now follows its (moved) retention; false if the case is
 * gone (the caller resolves its alert, tp_rule_resolve_case_expired). */
bool tp_rule_case_follow(const tp_rule_ctx_t *ctx, const char *key, const char *contract_id,
                         int64_t due_ms);

/* Resolves `subject` of `rule` because its case closed (resolution "case
 * closed", caused by event_id): "Contract <id> was closed<detail>." or
 * "was cancelled". Returns what tp_alerts_resolve returns. */
int tp_rule_resolve_case_closed(const tp_rule_ctx_t *ctx, const char *rule, const char *subject,
                                const tp_case_t *c, const char *detail, const char *event_id);

/* Resolves `subject` of `rule` because the engine forgot its case without
 * a close (resolution "expired", no causing event): "Contract <id> had no
 * step event for <horizon> and is no longer tracked; <what> closed." */
int tp_rule_resolve_case_expired(const tp_rule_ctx_t *ctx, const char *rule, const char *subject,
                                 const char *contract_id, const char *what);

/* Resolves a one-shot fact `subject` of `rule` that has been open for
 * open_ms (resolution "expired", no causing event): "<what>: alert closed
 * after <open_ms>." Returns what tp_alerts_resolve returns (0: it was not
 * FIRING). */
int tp_rule_resolve_fact(const tp_rule_ctx_t *ctx, const char *rule, const char *subject,
                         const char *what, int64_t open_ms);

/* How many bytes of `s` to keep for at most max: cut on a UTF-8
 * character boundary, so evidence stays a valid protobuf string. */
static inline size_t tp_rule_utf8_cut(const char *s, size_t max) {
    size_t n = strlen(s);
    if (n <= max)
        return n;
    n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    return n;
}

/* The registry, NULL-terminated, in evaluation order. */
const tp_rule_t *const *tp_rule_registry(void);

typedef struct tp_ruleset tp_ruleset_t;

/* Instantiates every rule enabled in ctx->cfg. 0 or negative errno. */
int tp_ruleset_new(const tp_rule_ctx_t *ctx, tp_ruleset_t **ret);

/* Applies a reloaded config (ctx->cfg; `old` is the one running): rules it
 * switches on start with empty state and see events from now on; rules it
 * switches off (or that need_reset) lose their state and deadlines, and
 * their open alerts are RESOLVED with evidence reason=rule_disabled (or
 * rule_reset). Thresholds of rules that stay on apply from the next event
 * or deadline; deadlines already armed keep their due time. 0, or -ENOMEM
 * with nothing changed. */
int tp_ruleset_reconfigure(tp_ruleset_t *rs, const tp_rule_ctx_t *ctx, const tp_config_t *old);

/* Offers an event to every enabled rule that wants its payload kind. */
void tp_ruleset_on_event(tp_ruleset_t *rs, const tp_rule_ctx_t *ctx, const tp_event_t *ev);

/* Hands a due deadline to the rule that armed it (d->owner). Returns 0, or
 * -ENOENT if no enabled rule owns it. */
int tp_ruleset_on_deadline(tp_ruleset_t *rs, const tp_rule_ctx_t *ctx, const tp_deadline_t *d);

/* Deadline owner ids below this belong to rules; the engine uses the rest. */
#define TP_OWNER_ENGINE 1000u

/* ---- Rules loaded at run time (daemon/rules/lua) ----
 * They sit beside the registry's, run after them in the order added, and
 * own deadlines TP_OWNER_RUNTIME + slot. The ruleset frees them (r->free)
 * when they are removed or it is destroyed; reconfigure leaves them to
 * whoever added them. */
#define TP_OWNER_RUNTIME     100u
#define TP_RULES_MAX_RUNTIME 64

/* Adds rule r (state its state) as deadline owner `owner`. 0, -EINVAL
 * (owner out of range), -EEXIST (owner taken). */
int tp_ruleset_add(tp_ruleset_t *rs, const tp_rule_t *r, void *state, uint32_t owner);

/* Takes run-time rule `owner` out as a reload switching it off does (its
 * open alerts RESOLVED with reason=rule_disabled, deadlines dropped, state
 * freed). -ENOENT if there is none. */
int tp_ruleset_remove(tp_ruleset_t *rs, const tp_rule_ctx_t *ctx, uint32_t owner);

/* Names of the enabled rules, for the start-up log line. */
size_t tp_ruleset_describe(const tp_ruleset_t *rs, char *buf, size_t len);

/* Snapshots: the name of the first enabled registry rule that keeps
 * private state it cannot save (NULL: all can). Run-time rules are saved
 * by their adder (tp_lua_rules_save), not here. */
const char *tp_ruleset_unsaved(const tp_ruleset_t *rs);

/* Writes which registry rules run (in order) and each one's saved state. Load into rules just started (tp_ruleset_new, nothing
 * seen yet): -EPROTO if the rules running now are not the ones saved (a
 * config that changed them is rebuilt from the full log instead), else 0
 * or negative errno. */
void tp_ruleset_save(const tp_ruleset_t *rs, tp_snapw_t *w);
int  tp_ruleset_load(tp_ruleset_t *rs, const tp_rule_ctx_t *ctx, tp_snapr_t *r);

void tp_ruleset_destroy(tp_ruleset_t **p);
