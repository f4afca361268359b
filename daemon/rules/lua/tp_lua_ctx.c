/* tp_lua_ctx — `ctx`, what a Lua rule can do (`ev`, what it sees, is
 * tp_lua_ev.c).
 *
 * `ctx` is one object per state: ctx.now, ctx.config, and the methods
 * fire, resolve, is_firing, arm, cancel, get, put, which act on the
 * engine's alerts, deadlines and the rule's store.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tp_lua_internal.h"

#define SUBJECT_MAX  256
#define TEXT_MAX     1024 /* summary, ids */
#define EVIDENCE_MAX 32

/* (ctx.now and ctx.config are plain fields, see tp_lua_ctx_open.) */

static tp_lua_rule_t *s_rule(lua_State *L) {
    tp_lua_vm_t *vm = tp_lua_vm_of(L);
    if (!vm->rule || !vm->rule->ctx)
        luaL_error(L, "ctx is only usable during a call to on_event or on_deadline");
    return vm->rule;
}

/* Optional string field `name` of the table at index 1, at most max bytes. */
static const char *s_opt_str(lua_State *L, const char *name, size_t max) {
    int t = lua_getfield(L, 1, name);
    if (t == LUA_TNIL) {
        lua_pop(L, 1);
        return NULL;
    }
    if (t != LUA_TSTRING && t != LUA_TNUMBER)
        tp_lua_bad_arg(L, "%s must be a string", name);
    size_t      len;
    const char *s = lua_tolstring(L, -1, &len);
    if (len > max || strlen(s) != len)
        tp_lua_bad_arg(L, "%s must be a string of at most %zu bytes", name, max);
    return s; /* stays on the stack (anchored) until the method returns */
}

static const char *s_subject(lua_State *L) {
    if (!lua_istable(L, 1))
        tp_lua_bad_arg(L, "expected a table {subject=..., ...}");
    const char *s = s_opt_str(L, "subject", SUBJECT_MAX);
    if (!s || !*s)
        tp_lua_bad_arg(L, "subject must be a non-empty string");
    return s;
}

static int s_kv_cmp(const void *a, const void *b) {
    return strcmp(((const tp_kv_t *)a)->key, ((const tp_kv_t *)b)->key);
}

/* evidence={k=v}: strings, numbers, booleans; keys strings. In key order:
 * a Lua table's order changes with each state's hash seed, and the alert
 * re-derived after a restart must be the one raised before it. */
static size_t s_evidence(lua_State *L, tp_kv_t *kv, size_t max) {
    size_t n = 0;
    int    t = lua_getfield(L, 1, "evidence");
    if (t == LUA_TNIL)
        return 0;
    if (t != LUA_TTABLE)
        tp_lua_bad_arg(L, "evidence must be a table of key = value");
    int at = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, at)) {
        if (n == max)
            tp_lua_bad_arg(L, "evidence has more than %zu entries", max);
        if (lua_type(L, -2) != LUA_TSTRING)
            tp_lua_bad_arg(L, "evidence keys must be strings");
        int vt = lua_type(L, -1);
        if (vt == LUA_TBOOLEAN) {
            lua_pushstring(L, lua_toboolean(L, -1) ? "true" : "false");
            lua_replace(L, -2);
        } else if (vt != LUA_TSTRING && vt != LUA_TNUMBER) {
            tp_lua_bad_arg(L, "evidence.%s must be a string, number or boolean",
                           lua_tostring(L, -2));
        }
        /* key and value stay anchored: copy both to the stack's bottom part */
        lua_pushvalue(L, -2);
        lua_pushvalue(L, -2);
        lua_tostring(L, -1);
        kv[n].key = lua_tostring(L, -2);
        kv[n].value = lua_tostring(L, -1);
        if (strlen(kv[n].value) > TEXT_MAX)
            tp_lua_bad_arg(L, "evidence.%s is longer than %d bytes", kv[n].key, TEXT_MAX);
        n++;
        lua_rotate(L, at + 1, 2); /* keep the copies below the iteration pair */
        lua_pop(L, 1);
    }
    qsort(kv, n, sizeof *kv, s_kv_cmp);
    return n;
}

static int s_fire(lua_State *L) {
    luaL_checkstack(L, 2 * EVIDENCE_MAX + 32, "fire");
    lua_remove(L, 1); /* the ctx (method call) */
    tp_lua_rule_t *r = s_rule(L);
    const char    *subject = s_subject(L);
    const char    *summary = s_opt_str(L, "summary", TEXT_MAX);
    const char    *sev = s_opt_str(L, "severity", 16);
    if (!summary || !*summary)
        tp_lua_bad_arg(L, "summary must be a non-empty string");
    Touchpoint__V1__Severity severity = TOUCHPOINT__V1__SEVERITY__SEVERITY_WARNING;
    if (sev && !strcmp(sev, "INFO"))
        severity = TOUCHPOINT__V1__SEVERITY__SEVERITY_INFO;
    else if (sev && !strcmp(sev, "CRITICAL"))
        severity = TOUCHPOINT__V1__SEVERITY__SEVERITY_CRITICAL;
    else if (sev && strcmp(sev, "WARNING"))
        tp_lua_bad_arg(L, "severity must be INFO, WARNING or CRITICAL");
    tp_kv_t         ev[EVIDENCE_MAX];
    size_t          n_ev = s_evidence(L, ev, EVIDENCE_MAX);
    tp_alert_spec_t spec = {
        .kind = r->vm->kind,
        .rule = r->name,
        .subject = subject,
        .severity = severity,
        .hcp_id = s_opt_str(L, "hcp_id", TEXT_MAX),
        .rep_id = s_opt_str(L, "rep_id", TEXT_MAX),
        .account_id = s_opt_str(L, "account_id", TEXT_MAX),
        .territory = s_opt_str(L, "territory", TEXT_MAX),
        .call_id = s_opt_str(L, "call_id", TEXT_MAX),
        .contract_id = s_opt_str(L, "contract_id", TEXT_MAX),
        .step = s_opt_str(L, "step", TEXT_MAX),
        .summary = summary,
        .evidence = ev,
        .n_evidence = n_ev,
        .event_ids = &r->event_id,
        .n_event_ids = r->event_id ? 1 : 0,
    };
    int e = tp_alerts_fire(r->ctx->alerts, &spec, r->ctx->now_ms);
    if (e < 0)
        return luaL_error(L, "could not fire: %s", strerror(-e));
    lua_pushboolean(L, e == 1);
    return 1;
}

static int s_resolve(lua_State *L) {
    luaL_checkstack(L, 2 * EVIDENCE_MAX + 32, "resolve");
    lua_remove(L, 1);
    tp_lua_rule_t *r = s_rule(L);
    const char    *subject = s_subject(L);
    const char    *summary = s_opt_str(L, "summary", TEXT_MAX);
    tp_kv_t        ev[EVIDENCE_MAX];
    size_t         n_ev = s_evidence(L, ev, EVIDENCE_MAX);
    int            e = tp_alerts_resolve(r->ctx->alerts, r->name, subject,
                              summary && *summary ? summary : "Resolved.", ev, n_ev, r->event_id,
                                         r->ctx->now_ms);
    if (e < 0)
        return luaL_error(L, "could not resolve: %s", strerror(-e));
    lua_pushboolean(L, e == 1);
    return 1;
}

static const char *s_key(lua_State *L, int i, const char *what) {
    size_t      len;
    const char *k = lua_type(L, i) == LUA_TSTRING ? lua_tolstring(L, i, &len) : NULL;
    if (!k || !len || len > SUBJECT_MAX || strlen(k) != len)
        tp_lua_bad_arg(L, "%s must be a non-empty string of at most %d bytes", what, SUBJECT_MAX);
    return k;
}

/* ctx:is_firing(subject, ...): with more than one argument the subject is
 * them end to end, as `..` would join them (strings or numbers):
 * ctx:is_firing("call/", id) asks what ctx:is_firing("call/" .. id) does
 * without making that string, which costs a rule checking each event
 * more than the rest of the check (a new Lua string, then its collection). */
static int s_is_firing(lua_State *L) {
    tp_lua_rule_t *r = s_rule(L);
    int            n = lua_gettop(L);
    char           buf[SUBJECT_MAX + 1];
    const char    *subject = buf;
    size_t         at = 0;
    if (n <= 2)
        subject = s_key(L, 2, "subject");
    for (int i = 2; n > 2 && i <= n; i++) {
        int t = lua_type(L, i);
        if (t != LUA_TSTRING && t != LUA_TNUMBER)
            tp_lua_bad_arg(L, "subject parts must be strings or numbers");
        size_t      len;
        const char *p = lua_tolstring(L, i, &len);
        if (len > SUBJECT_MAX - at || memchr(p, 0, len))
            tp_lua_bad_arg(L, "subject must be a string of at most %d bytes", SUBJECT_MAX);
        memcpy(buf + at, p, len);
        at += len;
    }
    if (n > 2 && !at)
        tp_lua_bad_arg(L, "subject must be a non-empty string of at most %d bytes", SUBJECT_MAX);
    buf[at] = 0;
    lua_pushboolean(L, tp_alerts_is_firing(r->ctx->alerts, r->name, subject));
    return 1;
}

static int s_arm(lua_State *L) {
    tp_lua_rule_t *r = s_rule(L);
    const char    *key = s_key(L, 2, "key");
    int            ok;
    lua_Integer    due = lua_tointegerx(L, 3, &ok);
    if (!ok)
        tp_lua_bad_arg(L, "due_ms must be an integer (ms since the epoch)");
    if (tp_timers_arm(r->ctx->timers, r->owner, key, (int64_t)due) < 0)
        return luaL_error(L, "out of memory arming a deadline");
    return 0;
}

static int s_cancel(lua_State *L) {
    tp_lua_rule_t *r = s_rule(L);
    lua_pushboolean(L, tp_timers_cancel(r->ctx->timers, r->owner, s_key(L, 2, "key")) == 1);
    return 1;
}

static int s_get(lua_State *L) {
    tp_lua_rule_t *r = s_rule(L);
    tp_lua_store_get(r->store, L, s_key(L, 2, "key"), r->ctx->now_ms);
    return 1;
}

static int s_put(lua_State *L) {
    tp_lua_rule_t *r = s_rule(L);
    const char    *key = s_key(L, 2, "key");
    int            ok = 1;
    lua_Integer    ttl = lua_isnoneornil(L, 4) ? 0 : lua_tointegerx(L, 4, &ok);
    if (!ok || ttl < 0)
        tp_lua_bad_arg(L, "ttl_ms must be an integer >= 0 (0 = kept until put(key, nil))");
    char why[160];
    int  e = tp_lua_store_put(r->store, L, key, 3, r->ctx->now_ms, ttl, why, sizeof why);
    if (e == -EINVAL)
        tp_lua_bad_arg(L, "%s", why);
    if (e == -ENOSPC) {
        tp_lua_vm_of(L)->fault = TP_LUA_ERR_STORE_FULL;
        return luaL_error(L, "%s", why);
    }
    if (e < 0)
        return luaL_error(L, "out of memory storing a value");
    return 0;
}

static int s_ctx_newindex(lua_State *L) {
    return luaL_error(L, "ctx is read-only");
}

void tp_lua_ctx_set_now(tp_lua_vm_t *vm, int64_t now_ms) {
    if (now_ms == vm->now_ms) /* several events in one millisecond */
        return;
    vm->now_ms = now_ms;
    lua_rawgeti(vm->L, LUA_REGISTRYINDEX, vm->ctx_fields);
    lua_pushinteger(vm->L, (lua_Integer)now_ms);
    lua_setfield(vm->L, -2, "now");
    lua_pop(vm->L, 1);
}

int tp_lua_ctx_open(tp_lua_vm_t *vm) {
    lua_State            *L = vm->L;
    static const luaL_Reg methods[] = {
        { "fire", s_fire }, { "resolve", s_resolve }, { "is_firing", s_is_firing },
        { "arm", s_arm },   { "cancel", s_cancel },   { "get", s_get },
        { "put", s_put },   { NULL, NULL },
    };
    /* ctx is an empty table whose metatable's __index is a plain table
     * (methods, config, now): reads cost a table lookup, not a C call;
     * writes are refused. tp_lua_ctx_set_now updates `now` per call. */
    luaL_newlib(L, methods);
    lua_rawgeti(L, LUA_REGISTRYINDEX, vm->config);
    lua_setfield(L, -2, "config");
    lua_pushinteger(L, 0);
    lua_setfield(L, -2, "now");
    lua_pushvalue(L, -1);
    vm->ctx_fields = luaL_ref(L, LUA_REGISTRYINDEX);
    tp_lua_readonly(L, s_ctx_newindex);
    vm->ctx = luaL_ref(L, LUA_REGISTRYINDEX);
    tp_lua_ev_open(L);
    return 0;
}
