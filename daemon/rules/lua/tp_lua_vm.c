/* tp_lua_vm — one rule file in its own sandboxed Lua state, and calls into
 * it under the rule's budgets.
 *
 * The sandbox is built, not filtered after the fact: only the base, string,
 * table, math, utf8 and coroutine libraries and our `text` (tp_lua_text.c)
 * are opened, the base functions that reach outside (dofile, loadfile,
 * load, print, collectgarbage, rawset) and math.random (a replay must
 * raise the same alerts) are removed, and setmetatable refuses finalizers
 * (__gc). The chunk is loaded as text only ("t": no bytecode) and runs
 * with _ENV set to a read-only proxy of those globals, so a rule cannot
 * leave state in globals that no restart would rebuild.
 *
 * Budgets: a custom allocator counts the bytes of the whole state and
 * refuses past budget.memory; a count hook every `step` instructions adds
 * up what a call (its coroutines included) ran and raises an error past
 * budget.instructions. Once over, the hook fires on every instruction, so
 * a pcall inside the rule cannot swallow the error and carry on.
 *
 * A count hook makes every Lua instruction dearer, so a call runs without
 * one until the watchdog (tp_lua_watch.c) finds it has used a slice of
 * CPU time; it is counted from then on. Coroutines are always counted
 * (their hook is set when they are made: the watchdog hooks only the
 * main thread), and so is every call of a rule once one of its calls was
 * abandoned for instructions: a rule that loops stalls the loop for its
 * budget, not for a slice, from its second offence on.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lualib.h>

#include "tp_lua_internal.h"

static void *s_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    tp_lua_vm_t *vm = ud;
    size_t       old = ptr ? osize : 0;
    if (nsize == 0) {
        free(ptr);
        vm->mem_used -= old;
        return NULL;
    }
    if (nsize > old && vm->mem_used + (nsize - old) > vm->mem_limit) {
        vm->mem_failed = true;
        return NULL;
    }
    void *p = realloc(ptr, nsize);
    if (!p) {
        vm->mem_failed = true;
        return NULL;
    }
    vm->mem_used = vm->mem_used - old + nsize;
    return p;
}

void tp_lua_count_hook(lua_State *L, lua_Debug *ar) {
    (void)ar;
    tp_lua_vm_t *vm = tp_lua_vm_of(L);
    vm->used += vm->step;
    if (vm->used <= vm->budget)
        return;
    vm->fault = TP_LUA_ERR_INSTRUCTIONS;
    lua_sethook(L, tp_lua_count_hook, LUA_MASKCOUNT, 1);
    /* lua_pushfstring knows %I (a lua_Integer), not %llu */
    luaL_error(L, "instruction budget of %I exceeded", (lua_Integer)vm->budget);
}

int tp_lua_bad_arg(lua_State *L, const char *fmt, ...) {
    tp_lua_vm_t *vm = tp_lua_vm_of(L);
    char         msg[256];
    va_list      ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (vm->fault < 0)
        vm->fault = TP_LUA_ERR_BAD_ARGUMENT;
    luaL_where(L, 1);
    lua_pushstring(L, msg);
    lua_concat(L, 2);
    return lua_error(L);
}

/* coroutine.create and coroutine.wrap (the library's, upvalue 1), with the
 * count hook set on the new coroutine: the watchdog hooks only the main
 * thread, so a loop inside a coroutine must be counted from its start. */
static int s_co_new(lua_State *L) {
    tp_lua_vm_t *vm = tp_lua_vm_of(L);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    lua_State *co = lua_tothread(L, -1);
    if (!co && lua_getupvalue(L, -1, 1)) { /* wrap: the thread is its upvalue */
        co = lua_tothread(L, -1);
        lua_pop(L, 1);
    }
    if (!co)
        return luaL_error(L, "coroutine library: no coroutine made");
    lua_sethook(co, tp_lua_count_hook, LUA_MASKCOUNT, (int)vm->step);
    return 1;
}

/* setmetatable (the base library's, upvalue 1), refusing a __gc field:
 * a finalizer runs whenever the collector gets to it, which may be while
 * the daemon pushes a call's arguments, outside any call and its budget.
 * (Lua marks an object for finalization only if __gc is there when its
 * metatable is set.) */
static int s_setmetatable(lua_State *L) {
    if (lua_type(L, 2) == LUA_TTABLE && lua_getfield(L, 2, "__gc") != LUA_TNIL)
        return tp_lua_bad_arg(L, "setmetatable: finalizers (__gc) are not available to rules");
    lua_settop(L, 2);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, 2, 1);
    return 1;
}

static int s_readonly(lua_State *L) {
    return luaL_error(L, "globals are read-only (keep state with ctx:put)");
}

/* The globals a rule sees: the safe libraries, behind a read-only proxy
 * (left on the stack). */
static void s_sandbox(lua_State *L) {
    static const luaL_Reg libs[] = {
        { LUA_GNAME, luaopen_base },       { LUA_STRLIBNAME, luaopen_string },
        { LUA_TABLIBNAME, luaopen_table }, { LUA_MATHLIBNAME, luaopen_math },
        { LUA_UTF8LIBNAME, luaopen_utf8 }, { LUA_COLIBNAME, luaopen_coroutine },
    };
    for (size_t i = 0; i < sizeof libs / sizeof libs[0]; i++) {
        luaL_requiref(L, libs[i].name, libs[i].func, 1);
        lua_pop(L, 1);
    }
    static const char *const gone[] = { "dofile",         "loadfile", "load",   "print",
                                        "collectgarbage", "rawset",   "require" };
    lua_pushglobaltable(L);
    for (size_t i = 0; i < sizeof gone / sizeof gone[0]; i++) {
        lua_pushnil(L);
        lua_setfield(L, -2, gone[i]);
    }
    lua_getfield(L, -1, "setmetatable");
    lua_pushcclosure(L, s_setmetatable, 1);
    lua_setfield(L, -2, "setmetatable");
    lua_getfield(L, -1, LUA_COLIBNAME);
    static const char *const makers[] = { "create", "wrap" };
    for (size_t i = 0; i < 2; i++) {
        lua_getfield(L, -1, makers[i]);
        lua_pushcclosure(L, s_co_new, 1);
        lua_setfield(L, -2, makers[i]);
    }
    lua_pop(L, 1);
    lua_getfield(L, -1, LUA_MATHLIBNAME);
    lua_pushnil(L);
    lua_setfield(L, -2, "random");
    lua_pushnil(L);
    lua_setfield(L, -2, "randomseed");
    lua_pop(L, 1);
    tp_lua_text_open(L);
    lua_setfield(L, -2, "text");
    tp_lua_readonly(L, s_readonly);
}

void tp_lua_readonly(lua_State *L, lua_CFunction refuse) {
    lua_newtable(L);
    lua_createtable(L, 0, 3);
    lua_pushvalue(L, -3);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, refuse);
    lua_setfield(L, -2, "__newindex");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    lua_remove(L, -2);
}

static void s_push_tree(lua_State *L, const tp_config_tree_t *t) {
    switch (t->kind) {
    case TP_TREE_STRING: lua_pushstring(L, t->str); return;
    case TP_TREE_INTEGER: lua_pushinteger(L, (lua_Integer)t->integer); return;
    case TP_TREE_NUMBER: lua_pushnumber(L, t->number); return;
    case TP_TREE_BOOL: lua_pushboolean(L, t->integer != 0); return;
    case TP_TREE_LIST:
    case TP_TREE_MAP:
        lua_createtable(L, t->kind == TP_TREE_LIST ? (int)t->n_items : 0,
                        t->kind == TP_TREE_MAP ? (int)t->n_items : 0);
        for (size_t i = 0; i < t->n_items; i++) {
            s_push_tree(L, &t->items[i]);
            if (t->kind == TP_TREE_LIST)
                lua_rawseti(L, -2, (lua_Integer)i + 1);
            else
                lua_setfield(L, -2, t->items[i].key);
        }
        return;
    }
    lua_pushnil(L);
}

static const char *const s_event_names[] = { "call", "contracting", "feedback", "watermark" };
static const unsigned    s_event_bits[] = { TP_EV_CALL, TP_EV_CONTRACTING, TP_EV_FEEDBACK,
                                            TP_EV_WATERMARK };

unsigned tp_lua_event_bit(const char *name) {
    for (size_t k = 0; k < sizeof s_event_bits / sizeof s_event_bits[0]; k++)
        if (!strcmp(name, s_event_names[k]))
            return s_event_bits[k];
    return 0;
}

/* The table the chunk returned (top of the stack): name, kind, events,
 * on_event, on_deadline, fields, where. 0 or -EINVAL with the reason in err. */
static int s_check_table(tp_lua_vm_t *vm, char *err, size_t errlen) {
    lua_State *L = vm->L;
    if (!lua_istable(L, -1)) {
        snprintf(err, errlen, "%s: the file must return a table (name, kind, events, on_event)",
                 vm->file);
        return -EINVAL;
    }
    lua_getfield(L, -1, "name");
    const char *name = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
    size_t      n = name ? strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_") : 0;
    if (!name || !n || name[n] || n >= TP_LUA_NAME_MAX || name[0] == '_' ||
        (name[0] >= '0' && name[0] <= '9')) {
        snprintf(err, errlen, "%s: name must be a string of a-z, 0-9 and _ (at most %d)", vm->file,
                 TP_LUA_NAME_MAX - 1);
        return -EINVAL;
    }
    snprintf(vm->name, sizeof vm->name, "%s", name);
    lua_pop(L, 1);
    for (const tp_rule_t *const *r = tp_rule_registry(); *r; r++)
        if (!strcmp((*r)->name, vm->name)) {
            snprintf(err, errlen, "%s: name \"%s\" is a built-in rule's", vm->file, vm->name);
            return -EINVAL;
        }
    lua_getfield(L, -1, "kind");
    const char *kind = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
    if (!strcmp(kind, "accountability"))
        vm->kind = TOUCHPOINT__V1__ALERT_KIND__ALERT_KIND_ACCOUNTABILITY;
    else if (!strcmp(kind, "friction"))
        vm->kind = TOUCHPOINT__V1__ALERT_KIND__ALERT_KIND_FRICTION;
    else {
        snprintf(err, errlen, "%s: kind must be \"accountability\" or \"friction\"", vm->file);
        return -EINVAL;
    }
    lua_pop(L, 1);
    lua_getfield(L, -1, "events");
    vm->events = 0;
    for (lua_Integer i = 1; lua_istable(L, -1) && lua_rawgeti(L, -1, i) != LUA_TNIL; i++) {
        const char *ev = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
        unsigned    bit = tp_lua_event_bit(ev);
        if (!bit) {
            snprintf(err, errlen,
                     "%s: events[%lld] must be one of call, contracting, feedback, watermark",
                     vm->file, (long long)i);
            return -EINVAL;
        }
        vm->events |= bit;
        lua_pop(L, 1);
    }
    lua_pop(L, 2);
    if (!vm->events) {
        snprintf(err, errlen,
                 "%s: events must list at least one of call, contracting, feedback,"
                 " watermark",
                 vm->file);
        return -EINVAL;
    }
    lua_getfield(L, -1, "on_event");
    if (!lua_isfunction(L, -1)) {
        snprintf(err, errlen, "%s: on_event must be a function(ev, ctx)", vm->file);
        return -EINVAL;
    }
    vm->on_event = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_getfield(L, -1, "on_deadline");
    if (!lua_isnil(L, -1) && !lua_isfunction(L, -1)) {
        snprintf(err, errlen, "%s: on_deadline must be a function(key, ctx) or absent", vm->file);
        return -EINVAL;
    }
    vm->on_deadline =
        lua_isnil(L, -1) ? (lua_pop(L, 1), LUA_NOREF) : luaL_ref(L, LUA_REGISTRYINDEX);
    int r = tp_lua_ev_paths(vm, err, errlen);
    return r < 0 ? r : tp_lua_where_parse(vm, err, errlen);
}

int tp_lua_vm_new(const tp_lua_rule_conf_t *conf, const char *src, size_t len, char *err,
                  size_t errlen, tp_lua_vm_t **ret) {
    tp_lua_vm_t *vm = calloc(1, sizeof *vm);
    int          r = -ENOMEM;
    if (!vm || !(vm->file = strdup(conf->file)))
        goto fail;
    vm->mem_limit = conf->memory;
    vm->budget = conf->instructions;
    vm->step = vm->budget < 1000 ? (unsigned)vm->budget : 1000;
    vm->fault = -1;
    vm->exact = true; /* the chunk: once, counted from the start */
    vm->on_event = vm->on_deadline = vm->ctx = vm->config = vm->ctx_fields = vm->enum_names =
        LUA_NOREF;
    if (!(vm->L = lua_newstate(s_alloc, vm))) {
        snprintf(err, errlen, "%s: out of memory creating its Lua state", conf->file);
        goto fail;
    }
    *(tp_lua_vm_t **)lua_getextraspace(vm->L) = vm;
    lua_State *L = vm->L;
    r = -EINVAL;
    s_push_tree(L, &conf->config);
    vm->config = luaL_ref(L, LUA_REGISTRYINDEX);
    if (tp_lua_ctx_open(vm) < 0) {
        snprintf(err, errlen, "%s: out of memory setting up its Lua state", conf->file);
        goto fail;
    }
    char chunk[256];
    snprintf(chunk, sizeof chunk, "@%s", conf->file);
    if (luaL_loadbufferx(L, src, len, chunk, "t") != LUA_OK) {
        snprintf(err, errlen, "%s", lua_tostring(L, -1));
        goto fail;
    }
    s_sandbox(L);
    if (!lua_setupvalue(L, -2, 1))
        lua_pop(L, 1);
    /* The chunk runs under the same budgets as a call, with the rule's
     * config as its argument (`local config = ...`): a `where` can depend
     * on it (a changed config reloads the file). */
    int reason;
    lua_rawgeti(L, LUA_REGISTRYINDEX, vm->config);
    if (tp_lua_vm_call(vm, 1, &reason, err, errlen) < 0)
        goto fail;
    if ((r = s_check_table(vm, err, errlen)) < 0)
        goto fail;
    lua_settop(L, 0);
    vm->exact = false;
    lua_gc(L, LUA_GCCOLLECT);
    /* Most of what a call allocates (ev objects, strings) dies with it:
     * the generational collector handles that with less work. */
    lua_gc(L, LUA_GCGEN, 0, 0);
    *ret = vm;
    return 0;
fail:
    tp_lua_vm_destroy(&vm);
    return r;
}

int tp_lua_vm_call(tp_lua_vm_t *vm, int nargs, int *ret_reason, char *err, size_t errlen) {
    lua_State *L = vm->L;
    vm->used = 0;
    vm->mem_failed = false;
    vm->fault = -1;
    bool watched = !vm->exact && tp_lua_watch_begin(vm);
    if (!watched)
        lua_sethook(L, tp_lua_count_hook, LUA_MASKCOUNT, (int)vm->step);
    int st = lua_pcall(L, nargs, 1, 0);
    if (watched)
        tp_lua_watch_end(vm);
    if (lua_gethookmask(L))
        lua_sethook(L, NULL, 0, 0);
    if (vm->fault == TP_LUA_ERR_INSTRUCTIONS)
        vm->exact = true;
    vm->gen++; /* every `ev` handed to this call is dead from here on */
    vm->n_live = 0;
    if (st == LUA_OK && vm->fault != TP_LUA_ERR_INSTRUCTIONS)
        return 0;
    int reason = vm->fault >= 0                       ? vm->fault
                 : st == LUA_ERRMEM || vm->mem_failed ? TP_LUA_ERR_MEMORY
                                                      : TP_LUA_ERR_ERROR;
    if (st == LUA_ERRMEM)
        snprintf(err, errlen, "%s: memory budget of %zu bytes exceeded", vm->file, vm->mem_limit);
    else if (st != LUA_OK && lua_type(L, -1) == LUA_TSTRING)
        snprintf(err, errlen, "%s", lua_tostring(L, -1));
    else
        snprintf(err, errlen, "%s: %s", vm->file,
                 reason == TP_LUA_ERR_INSTRUCTIONS ? "instruction budget exceeded"
                                                   : "error object is not a string");
    lua_settop(L, 0);
    *ret_reason = reason;
    return -ECANCELED;
}

void tp_lua_vm_destroy(tp_lua_vm_t **p) {
    tp_lua_vm_t *vm = p ? *p : NULL;
    if (!vm)
        return;
    if (vm->L)
        lua_close(vm->L);
    tp_lua_where_free(vm);
    free(vm->file);
    free(vm);
    *p = NULL;
}
