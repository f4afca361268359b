/* tp_lua_rule — one Lua rule as a plugin of the ruleset (a tp_rule_t whose
 * callbacks call into its Lua state). An abandoned call is counted per
 * reason, remembered for /status and logged through a rate limiter; the
 * engine carries on with the next rule. */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tp_clock.h"
#include "tp_log.h"
#include "tp_lua_internal.h"

const char *tp_lua_error_reason(int reason) {
    static const char *const names[TP_LUA_ERR_COUNT] = {
        [TP_LUA_ERR_INSTRUCTIONS] = "instructions",
        [TP_LUA_ERR_MEMORY] = "memory",
        [TP_LUA_ERR_ERROR] = "error",
        [TP_LUA_ERR_BAD_ARGUMENT] = "bad_argument",
        [TP_LUA_ERR_STORE_FULL] = "store_full",
    };
    return reason >= 0 && reason < TP_LUA_ERR_COUNT ? names[reason] : "?";
}

static void s_failed(tp_lua_rule_t *r, int reason, const char *msg) {
    r->errors[reason]++;
    snprintf(r->last_error, sizeof r->last_error, "%s: %s", tp_lua_error_reason(reason), msg);
    uint64_t suppressed;
    bool     ok = tp_ratelimit_below(&r->rl, tp_monotonic_ms(), &suppressed);
    if (suppressed)
        log_warning("Lua rule %s: %" PRIu64 " similar messages suppressed", r->name, suppressed);
    if (ok)
        log_warning("Lua rule %s: call abandoned (%s): %s", r->name, tp_lua_error_reason(reason),
                    msg);
}

/* Calls the function with the nargs args above it the caller pushed
 * (fn, arg, ctx, ...; ctx.now set for this call). */
static void s_call(tp_lua_rule_t *r, const tp_rule_ctx_t *ctx, const char *event_id, int nargs) {
    tp_lua_vm_t *vm = r->vm;
    char         err[512];
    r->ctx = ctx;
    r->event_id = event_id;
    r->calls++;
    int reason;
    int e = tp_lua_vm_call(vm, nargs, &reason, err, sizeof err);
    r->ctx = NULL;
    r->event_id = NULL;
    if (e < 0)
        s_failed(r, reason, err);
    lua_settop(vm->L, 0);
}

/* What is pushed before the call (strings, tables) is outside its pcall,
 * where an error is a panic: the memory budget is lifted for it (the
 * returned limit is put back after). A call that then starts over budget
 * fails at its first allocation, inside the call, and is abandoned. (A
 * collection step there runs no rule code: rules cannot set finalizers,
 * see tp_lua_vm.c.) */
static size_t s_push_begin(tp_lua_vm_t *vm) {
    size_t limit = vm->mem_limit;
    vm->mem_limit = SIZE_MAX;
    return limit;
}

/* on_event(ev, ctx, <the rule's fields>...): the fields it declares are
 * pushed from here, which costs none of the Lua-to-C calls reading them
 * through ev would. */
static void s_lua_on_event(void *state, const tp_rule_ctx_t *ctx, const tp_event_t *ev) {
    tp_lua_rule_t *r = state;
    tp_lua_vm_t   *vm = r->vm;
    lua_State     *L = vm->L;
    if (vm->n_where && !tp_lua_where_match(vm, &ev->env->base))
        return; /* the rule's filter: no Lua at all */
    if (!lua_checkstack(L, 8 + (int)vm->n_paths))
        return;
    if (vm->n_paths) /* below the call: the enum names table (stack index 1) */
        lua_rawgeti(L, LUA_REGISTRYINDEX, vm->enum_names);
    lua_rawgeti(L, LUA_REGISTRYINDEX, vm->on_event);
    tp_lua_push_message(L, &ev->env->base); /* dead once the call returns (vm->gen) */
    tp_lua_ctx_set_now(vm, ctx->now_ms);
    lua_rawgeti(L, LUA_REGISTRYINDEX, vm->ctx);
    size_t limit = s_push_begin(vm);
    tp_lua_push_paths(vm, &ev->env->base, 1);
    vm->mem_limit = limit;
    s_call(r, ctx, ev->env->event_id, 2 + (int)vm->n_paths);
}

static void s_lua_on_deadline(void *state, const tp_rule_ctx_t *ctx, const tp_deadline_t *d) {
    tp_lua_rule_t *r = state;
    lua_State     *L = r->vm->L;
    if (r->vm->on_deadline == LUA_NOREF || !lua_checkstack(L, 8))
        return;
    lua_rawgeti(L, LUA_REGISTRYINDEX, r->vm->on_deadline);
    size_t limit = s_push_begin(r->vm);
    lua_pushstring(L, tp_deadline_key(d));
    r->vm->mem_limit = limit;
    tp_lua_ctx_set_now(r->vm, ctx->now_ms);
    lua_rawgeti(L, LUA_REGISTRYINDEX, r->vm->ctx);
    s_call(r, ctx, NULL, 2);
}

static void s_free(void *state) {
    tp_lua_rule_t *r = state;
    if (!r)
        return;
    tp_lua_vm_destroy(&r->vm);
    tp_lua_store_destroy(&r->store);
    free(r);
}

static void s_describe(tp_lua_rule_t *r) {
    r->rule = (tp_rule_t){
        .name = r->name,
        .description = "user-defined rule (Lua)",
        .kind = r->vm->kind,
        .events = r->vm->events,
        .on_event = s_lua_on_event,
        .on_deadline = s_lua_on_deadline,
        .free = s_free,
    };
}

int tp_lua_rule_new(tp_lua_vm_t *vm, uint32_t owner, const tp_config_t *cfg, tp_lua_rule_t **ret) {
    tp_lua_rule_t *r = calloc(1, sizeof *r);
    if (!r || tp_lua_store_new(&r->store) < 0) {
        free(r);
        return -ENOMEM;
    }
    snprintf(r->name, sizeof r->name, "%s", vm->name);
    r->vm = vm;
    vm->rule = r;
    r->owner = owner;
    r->rl = (tp_ratelimit_t){ .interval_ms = cfg->log_interval_ms, .burst = cfg->log_burst };
    s_describe(r);
    *ret = r;
    return 0;
}

void tp_lua_rule_swap(tp_lua_rule_t *r, tp_lua_vm_t *vm) {
    tp_lua_vm_destroy(&r->vm);
    r->vm = vm;
    vm->rule = r;
    /* kind and events come from the new file; the name is the same. */
    r->rule.kind = vm->kind;
    r->rule.events = vm->events;
}
