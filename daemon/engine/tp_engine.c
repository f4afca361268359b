/* tp_engine — see tp_engine.h. */
#include "tp_engine.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tp_arena.h"
#include "tp_cases.h"
#include "tp_dedup.h"
#include "tp_log.h"
#include "tp_lua_rules.h"
#include "tp_rules.h"
#include "tp_seq.h"
#include "tp_state.h"
#include "tp_timers.h"

/* Deadline owners of the engine itself (rules use their registry index). */
#define OWNER_CALL_RETENTION (TP_OWNER_ENGINE + 0)
#define OWNER_CASE_RETENTION (TP_OWNER_ENGINE + 1)

struct tp_engine {
    const tp_config_t    *cfg;
    tp_clock_t            clock;
    tp_stats_t            stats;
    tp_dedup_t           *dedup;
    tp_seq_t             *seq;
    tp_state_t           *state;
    tp_cases_t           *cases;
    tp_alerts_t          *alerts;
    tp_ruleset_t         *rules;
    tp_timers_t          *timers;   /* every deadline: rules' and retention */
    tp_ratelimit_t        bad_rl;   /* bad frames, duplicates */
    tp_ratelimit_t        seq_rl;   /* sequence gaps, regressions */
    tp_engine_observer_fn observer; /* after the rules, per accepted event */
    void                 *observer_ctx;
    tp_arena_t           *arena; /* the event being handled: decoded into it, reset after */
    tp_lua_rules_t       *lua;   /* user-defined rules (lua_rules), in e->rules too */
};

#define ARENA_BLOCK 16384 /* the mix's Envelopes decode into ~1 KiB; a large one overflows */

static tp_rule_ctx_t s_ctx(tp_engine_t *e) {
    return (tp_rule_ctx_t){ .cfg = e->cfg,
                            .alerts = e->alerts,
                            .state = e->state,
                            .cases = e->cases,
                            .stats = &e->stats,
                            .timers = e->timers,
                            .now_ms = tp_clock_now(&e->clock) };
}

int tp_engine_new(const tp_config_t *cfg, tp_engine_t **ret) {
    tp_engine_t *e = calloc(1, sizeof *e);
    if (!e)
        return -ENOMEM;
    e->cfg = cfg;
    tp_clock_init(&e->clock, cfg->clock);
    e->bad_rl = (tp_ratelimit_t){ .interval_ms = cfg->log_interval_ms, .burst = cfg->log_burst };
    e->seq_rl = e->bad_rl;
    int r;
    if ((r = tp_dedup_new(cfg->dedup_window, &e->dedup)) < 0 ||
        (r = tp_seq_new(cfg->max_sources, &e->seq)) < 0 || (r = tp_state_new(&e->state)) < 0 ||
        (r = tp_cases_new(&e->cases)) < 0 || (r = tp_alerts_new(&e->stats, &e->alerts)) < 0 ||
        (r = tp_timers_new(&e->timers)) < 0 || (r = tp_arena_new(ARENA_BLOCK, &e->arena)) < 0)
        goto fail;
    tp_cases_set_max_open_per_hcp(e->cases, (uint32_t)cfg->max_open_cases_per_hcp);
    /* The rules come last: their context is the modules above. */
    tp_rule_ctx_t ctx = s_ctx(e);
    if ((r = tp_ruleset_new(&ctx, &e->rules)) < 0 ||
        (r = tp_lua_rules_new(&ctx, e->rules, &e->lua)) < 0)
        goto fail;
    *ret = e;
    return 0;
fail:
    tp_engine_destroy(&e);
    return r;
}

int tp_engine_can_reconfigure(const tp_engine_t *e, const tp_config_t *cfg, char *why,
                              size_t whylen) {
    /* The clock, the dedup window and the source table are built at start;
     * changing them live would mean rebuilding the engine, which a restart
     * does better. The config module keeps the list of such keys. */
    const char *fixed = tp_config_restart_key(e->cfg, cfg);
    if (fixed) {
        snprintf(why, whylen, "%s cannot change on reload; restart touchpointd to change it",
                 fixed);
        return -EINVAL;
    }
    return 0;
}

int tp_engine_reconfigure(tp_engine_t *e, const tp_config_t *cfg, char *why, size_t whylen) {
    int r = tp_engine_can_reconfigure(e, cfg, why, whylen);
    if (r < 0)
        return r;
    tp_rule_ctx_t ctx = s_ctx(e);
    ctx.cfg = cfg;
    r = tp_ruleset_reconfigure(e->rules, &ctx, e->cfg);
    if (r < 0) {
        snprintf(why, whylen, "out of memory starting rules");
        return r;
    }
    /* A Lua file that fails to load keeps its running version (logged). */
    tp_lua_rules_reconfigure(e->lua, &ctx, e->rules);
    e->cfg = cfg;
    tp_cases_set_max_open_per_hcp(e->cases, (uint32_t)cfg->max_open_cases_per_hcp);
    e->bad_rl.interval_ms = e->seq_rl.interval_ms = cfg->log_interval_ms;
    e->bad_rl.burst = e->seq_rl.burst = cfg->log_burst;
    return 0;
}

void tp_engine_set_sink(tp_engine_t *e, tp_alert_sink_fn fn, void *ctx) {
    tp_alerts_set_sink(e->alerts, fn, ctx);
}

void tp_engine_set_observer(tp_engine_t *e, tp_engine_observer_fn fn, void *ctx) {
    e->observer = fn;
    e->observer_ctx = ctx;
}

tp_clock_t *tp_engine_clock(tp_engine_t *e) {
    return &e->clock;
}

const tp_stats_t *tp_engine_stats(const tp_engine_t *e) {
    return &e->stats;
}

tp_stats_t *tp_engine_counters(tp_engine_t *e) {
    return &e->stats;
}

void tp_engine_set_next_sequence(tp_engine_t *e, uint64_t next) {
    tp_alerts_set_next_sequence(e->alerts, next);
}

size_t tp_engine_open_alerts(const tp_engine_t *e) {
    return tp_alerts_open(e->alerts);
}

void tp_engine_foreach_open_alert(const tp_engine_t *e, tp_alert_each_fn fn, void *ctx) {
    tp_alerts_foreach(e->alerts, fn, ctx);
}

size_t tp_engine_calls(const tp_engine_t *e) {
    return tp_state_calls(e->state);
}

size_t tp_engine_cases(const tp_engine_t *e) {
    return tp_cases_count(e->cases);
}

void tp_engine_describe_rules(const tp_engine_t *e, char *buf, size_t len) {
    tp_ruleset_describe(e->rules, buf, len);
}

/* Bad input is logged at most log_burst times per log_interval, so a
 * million bad frames cost a handful of lines plus one "suppressed" line. */
static bool s_may_log(tp_ratelimit_t *rl) {
    uint64_t suppressed;
    bool     ok = tp_ratelimit_below(rl, tp_monotonic_ms(), &suppressed);
    if (suppressed)
        log_warning("%" PRIu64 " similar messages suppressed", suppressed);
    return ok;
}

static void s_check_sequence(tp_engine_t *e, const Touchpoint__V1__Envelope *env) {
    uint64_t missing;
    int      r = tp_seq_observe(e->seq, env->source, env->sequence, &missing);
    switch (r) {
    case TP_SEQ_GAP:
        e->stats.seq_gaps++;
        e->stats.seq_missing += missing;
        if (s_may_log(&e->seq_rl))
            log_warning("Sequence gap from source '%s': %" PRIu64
                        " event(s) missing before %" PRIu64,
                        env->source, missing, env->sequence);
        break;
    case TP_SEQ_RESTART:
        e->stats.seq_restarts++;
        if (s_may_log(&e->seq_rl))
            log_notice("Source '%s' restarted its sequence at 1", env->source);
        break;
    case TP_SEQ_REGRESSION:
        e->stats.seq_regressions++;
        if (s_may_log(&e->seq_rl))
            log_warning("Source '%s' went back to sequence %" PRIu64 " (last %" PRIu64 ")",
                        env->source, env->sequence, tp_seq_last(e->seq, env->source));
        break;
    case TP_SEQ_FULL:
        e->stats.sources_dropped++;
        if (s_may_log(&e->seq_rl))
            log_warning("Not tracking sequence of source '%s': %zu sources tracked already",
                        env->source, tp_seq_sources(e->seq));
        break;
    default: break;
    }
}

/* A call is kept until its last rule deadline has passed plus the
 * retention grace, so a stale draft arriving late is still recognised as
 * stale; then it is forgotten, so state stays bounded by the arrival rate.
 * Versions that arrive within the horizon do not move the date, so the
 * usual planned -> submitted -> corrected sequence arms it once. */
static void s_arm_call_retention(tp_engine_t *e, tp_call_t *call) {
    int64_t horizon_end = call->call_at_ms + tp_config_call_horizon(e->cfg);
    if (call->version_ms > horizon_end)
        horizon_end = call->version_ms;
    int64_t forget_at = horizon_end + e->cfg->call_retention_ms;
    if (forget_at == tp_timer_due(&call->retention))
        return;
    if (tp_timers_arm_timer(e->timers, &call->retention, OWNER_CALL_RETENTION, forget_at) < 0)
        log_warning("Out of memory arming retention of call '%s'", call->call_id);
}

/* A closed case is kept case_retention after it closed (late events for
 * it are still recognised); an open one open_case_horizon after it last
 * moved, so a contract nobody ever closes does not live forever. */
static void s_arm_case_retention(tp_engine_t *e, tp_case_t *c) {
    int64_t forget_at = c->closed ? c->closed_at_ms + e->cfg->case_retention_ms
                                  : c->last_step_ms + e->cfg->open_case_horizon_ms;
    if (forget_at == tp_timer_due(&c->retention))
        return;
    if (tp_timers_arm_timer(e->timers, &c->retention, OWNER_CASE_RETENTION, forget_at) < 0)
        log_warning("Out of memory arming retention of contract '%s'", c->contract_id);
}

/* A popped timer: a retention (embedded in its call or case, which it
 * forgets) or a rule's deadline (freed here). */
static void s_fire(tp_engine_t *e, tp_timer_t *tm) {
    tp_deadline_t *d = tp_deadline_of(tm);
    if (d) {
        tp_rule_ctx_t ctx = s_ctx(e);
        tp_ruleset_on_deadline(e->rules, &ctx, d);
        free(d);
    } else if (tm->owner == OWNER_CALL_RETENTION) {
        tp_state_forget_call(e->state,
                             (tp_call_t *)(void *)((char *)tm - offsetof(tp_call_t, retention)));
    } else if (tm->owner == OWNER_CASE_RETENTION) {
        tp_cases_forget(e->cases,
                        (tp_case_t *)(void *)((char *)tm - offsetof(tp_case_t, retention)));
    }
}

/* Before an event at time t is applied, every deadline it passes fires, in
 * due order: the event says the world has reached t, so whatever was due
 * before t was missed before this event happened. This is what makes a
 * backfill, a live run and a live run catching up on a backlog raise the
 * same alerts in the same order.
 *
 * Event clock: time moves only with events; the clock is stepped to the
 * moment each deadline was missed (due + 1 ms). Wall clock: deadlines
 * already behind the wall clock fire now (the timer would have fired them
 * anyway); an event stamped in the future does not pull them early. */
static void s_advance(tp_engine_t *e, int64_t t) {
    bool event_clock = e->clock.mode == TP_CLOCK_EVENT;
    if (!event_clock) {
        int64_t now = tp_clock_now(&e->clock);
        if (t > now)
            t = now;
    }
    tp_timer_t *tm;
    while ((tm = tp_timers_pop(e->timers, t))) {
        if (event_clock)
            tp_clock_observe(&e->clock, tm->due_ms + 1);
        s_fire(e, tm);
    }
}

size_t tp_engine_fire_due(tp_engine_t *e) {
    int64_t     now = tp_clock_now(&e->clock);
    size_t      n = 0;
    tp_timer_t *tm;
    while ((tm = tp_timers_pop(e->timers, now))) {
        s_fire(e, tm);
        n++;
    }
    return n;
}

int64_t tp_engine_next_deadline(const tp_engine_t *e) {
    return tp_timers_next(e->timers);
}

size_t tp_engine_deadlines(const tp_engine_t *e) {
    return tp_timers_count(e->timers);
}

static int s_dispatch(tp_engine_t *e, const Touchpoint__V1__Envelope *env, char *why,
                      size_t whylen) {
    size_t         idlen = strlen(env->event_id);
    tp_dedup_key_t idkey;
    if (tp_dedup_seen(e->dedup, env->event_id, idlen, &idkey)) {
        e->stats.duplicates++;
        if (s_may_log(&e->bad_rl))
            log_info("Ignoring duplicate event '%s' from '%s'", env->event_id, env->source);
        return TP_DUPLICATE;
    }
    /* Remembered before anything changes (out of memory then changes
     * nothing), except a step: the cases may refuse it for a limit, and a
     * refused event must not be remembered, or its resend after the NACK
     * would be taken for a duplicate and lost. */
    bool step = env->payload_case == TOUCHPOINT__V1__ENVELOPE__PAYLOAD_CONTRACTING;
    int  r;
    if (!step && (r = tp_dedup_remember(e->dedup, idkey)) < 0)
        return r;
    s_check_sequence(e, env);
    int64_t t = env->occurred_at_ms;
    if (env->payload_case == TOUCHPOINT__V1__ENVELOPE__PAYLOAD_WATERMARK &&
        env->watermark->now_ms > t)
        t = env->watermark->now_ms;
    s_advance(e, t);
    tp_clock_observe(&e->clock, t);

    /* The one switch over payload kinds: update state, then let the rules
     * that asked for this kind look at the result. */
    tp_event_t       ev = { .env = env };
    tp_step_change_t change;
    switch (env->payload_case) {
    case TOUCHPOINT__V1__ENVELOPE__PAYLOAD_CALL:
        e->stats.calls++;
        r = tp_state_apply_call(e->state, env->call, env->event_id, env->occurred_at_ms, &ev.call);
        if (r < 0)
            return r;
        ev.applied = r == 1;
        if (!ev.applied) {
            e->stats.stale_versions++;
        } else {
            s_arm_call_retention(e, ev.call);
            ev.hcp = tp_key(ev.call->hcp_id); /* rules look at applied versions only */
        }
        break;
    case TOUCHPOINT__V1__ENVELOPE__PAYLOAD_CONTRACTING:
        r = tp_cases_apply(e->cases, env->contracting, env->event_id, &change);
        if (r == -E2BIG) {
            e->stats.steps_dropped++;
            snprintf(why, whylen, "contract '%s' has %d distinct steps already; dropped step '%s'",
                     env->contracting->contract_id, TP_CASE_MAX_STEPS, env->contracting->step);
            if (s_may_log(&e->bad_rl))
                log_warning("Dropped a step event: %s", why);
            return TP_REFUSED;
        }
        if (r == -EDQUOT) {
            e->stats.cases_over_hcp_limit++;
            snprintf(why, whylen,
                     "HCP '%s' has %zu open contracts already "
                     "(limits.max_open_cases_per_hcp); not opening '%s'",
                     env->contracting->hcp_id, e->cfg->max_open_cases_per_hcp,
                     env->contracting->contract_id);
            if (s_may_log(&e->bad_rl))
                log_warning("Dropped a step event: %s", why);
            return TP_REFUSED;
        }
        if (r < 0)
            return r;
        if (tp_dedup_remember(e->dedup, idkey) < 0)
            log_warning("Out of memory remembering event '%s': a resend of it will not be "
                        "recognised as a duplicate",
                        env->event_id);
        e->stats.contracting++;
        ev.step = &change;
        s_arm_case_retention(e, change.kase);
        break;
    case TOUCHPOINT__V1__ENVELOPE__PAYLOAD_FEEDBACK:
        e->stats.feedback++;
        ev.hcp = tp_key(env->feedback->hcp_id);
        break;
    case TOUCHPOINT__V1__ENVELOPE__PAYLOAD_WATERMARK: e->stats.watermarks++; break;
    default: return TP_REFUSED; /* unreachable: the codec refuses envelopes without payload */
    }
    /* Counted here, not before the switch: a step refused above is counted
     * as refused only, so received = accepted + duplicates + refused. */
    e->stats.accepted++;
    tp_rule_ctx_t ctx = s_ctx(e);
    tp_ruleset_on_event(e->rules, &ctx, &ev);
    if (e->observer)
        e->observer(e->observer_ctx, &ev);
    return TP_ACCEPTED;
}

static int s_refuse(tp_engine_t *e, tp_bad_t bad, const char *why) {
    e->stats.bad[bad]++;
    if (s_may_log(&e->bad_rl))
        log_warning("Dropped bad message (%s): %s", tp_bad_name(bad), why);
    return TP_REFUSED;
}

int tp_engine_handle_why(tp_engine_t *e, const tp_frame_t *frames, size_t nframes, char *why,
                         size_t whylen, char *ret_event_id, size_t idlen) {
    e->stats.received++;
    Touchpoint__V1__Envelope *env = NULL;
    if (ret_event_id && idlen)
        ret_event_id[0] = '\0';
    tp_bad_t bad =
        tp_codec_decode(frames, nframes, tp_arena_allocator(e->arena), &env, why, whylen);
    if (bad != TP_BAD_NONE) {
        tp_arena_reset(e->arena);
        /* A decodable but refused message still names its event, so a
         * reliable producer can match the NACK (rare path: decode again). */
        if (ret_event_id && idlen && (bad == TP_BAD_MISMATCH || bad == TP_BAD_INVALID))
            tp_codec_event_id(&frames[1], ret_event_id, idlen);
        return s_refuse(e, bad, why);
    }
    if (ret_event_id && idlen)
        snprintf(ret_event_id, idlen, "%s", env->event_id);
    int r = s_dispatch(e, env, why, whylen);
    /* Nothing decoded outlives the event: state and alerts keep copies. */
    tp_arena_reset(e->arena);
    return r;
}

int tp_engine_handle(tp_engine_t *e, const tp_frame_t *frames, size_t nframes) {
    char why[256];
    return tp_engine_handle_why(e, frames, nframes, why, sizeof why, NULL, 0);
}

int tp_engine_handle_envelope(tp_engine_t *e, const Touchpoint__V1__Envelope *env) {
    e->stats.received++;
    char     why[256];
    tp_bad_t bad = tp_codec_validate(env, why, sizeof why);
    if (bad != TP_BAD_NONE)
        return s_refuse(e, bad, why);
    return s_dispatch(e, env, why, sizeof why);
}

const tp_lua_rules_t *tp_engine_lua_rules(const tp_engine_t *e) {
    return e->lua;
}

size_t tp_engine_rebuilt(tp_engine_t *e) {
    tp_rule_ctx_t ctx = s_ctx(e);
    return tp_lua_rules_resolve_gone(e->lua, &ctx);
}

void tp_engine_destroy(tp_engine_t **p) {
    tp_engine_t *e = p ? *p : NULL;
    if (!e)
        return;
    tp_ruleset_destroy(&e->rules); /* frees the Lua rules too */
    tp_lua_rules_destroy(&e->lua);
    tp_timers_destroy(&e->timers);
    tp_alerts_destroy(&e->alerts);
    tp_cases_destroy(&e->cases);
    tp_state_destroy(&e->state);
    tp_seq_destroy(&e->seq);
    tp_dedup_destroy(&e->dedup);
    tp_arena_destroy(&e->arena);
    free(e);
    *p = NULL;
}

/* ---- Snapshots ----
 * The engine's whole state, module by module, each through its own
 * save/load next to its data. The counters (stats) are not saved: they
 * describe this run. */
#define ENGINE_SNAP_VERSION 2 /* 2: the Lua rules' section (1: taken without Lua rules) */

const char *tp_engine_unsaved(const tp_engine_t *e) {
    return tp_ruleset_unsaved(e->rules);
}

void tp_engine_save(const tp_engine_t *e, tp_snapw_t *w) {
    tp_snapw_section(w, TP_SNAP_TAG('E', 'N', 'G', 'N'), ENGINE_SNAP_VERSION);
    tp_snapw_u64(w, (uint64_t)e->clock.mode);
    tp_snapw_i64(w, e->clock.event_now_ms);
    tp_dedup_save(e->dedup, w);
    tp_seq_save(e->seq, w);
    tp_timers_save(e->timers, w);
    tp_state_save(e->state, w);
    tp_cases_save(e->cases, w);
    tp_alerts_save(e->alerts, w);
    tp_ruleset_save(e->rules, w);
    tp_lua_rules_save(e->lua, w);
}

int tp_engine_load(tp_engine_t *e, tp_snapr_t *r) {
    uint64_t mode = 0;
    int64_t  event_now = 0;
    uint32_t version = 0;
    int k = tp_snapr_section(r, TP_SNAP_TAG('E', 'N', 'G', 'N'), ENGINE_SNAP_VERSION, &version);
    if (k < 0 || (k = tp_snapr_u64(r, &mode)) < 0 || (k = tp_snapr_i64(r, &event_now)) < 0)
        return k;
    if (mode != (uint64_t)e->clock.mode) {
        log_info("The snapshot was taken with another clock mode");
        return -EPROTO;
    }
    tp_rule_ctx_t ctx = s_ctx(e);
    if ((k = tp_dedup_load(e->dedup, r)) < 0 || (k = tp_seq_load(e->seq, r)) < 0 ||
        (k = tp_timers_load(e->timers, r)) < 0 || (k = tp_state_load(e->state, e->timers, r)) < 0 ||
        (k = tp_cases_load(e->cases, e->timers, r)) < 0)
        return k;
    /* Every deadline is back: one heapify before the rules' state, whose
     * load may arm or cancel some. */
    tp_timers_load_done(e->timers);
    if ((k = tp_alerts_load(e->alerts, r)) < 0 || (k = tp_ruleset_load(e->rules, &ctx, r)) < 0 ||
        (version >= 2 && (k = tp_lua_rules_load(e->lua, &ctx, r)) < 0))
        return k;
    e->clock.event_now_ms = event_now;
    return tp_snapr_error(r);
}
