/* tp_lua_internal — what the parts of the Lua rule module share; not its
 * public API (tp_lua_rules.h).
 *
 * A Lua rule is two things: the rule (tp_lua_rule_t: a tp_rule_t plugin in
 * the ruleset, with its alerts, deadlines and key/value store, all owned by
 * the engine) and the Lua state running its file (tp_lua_vm_t). A SIGHUP
 * that changes the file swaps the vm under the rule and keeps the rest.
 * tp_lua_vm.c loads a file into a sandboxed state with its budgets;
 * tp_lua_ev.c is the event a rule sees (ev), tp_lua_ctx.c what it can
 * do (ctx); tp_lua_store.c its key/value state; tp_lua_rule.c the
 * plugin; tp_lua_rules.c the set;
 * tp_lua_watch.c the watchdog that spares short calls the count hook;
 * tp_lua_text.c the `text` library rules get beside Lua's own;
 * tp_lua_where.c the filter a rule declares, run before any Lua.
 */
#pragma once

#include <lauxlib.h>
#include <lua.h>
#include <stdbool.h>
#include <stdint.h>

#include "tp_log.h"
#include "tp_lua_rules.h"
#include "tp_rules.h"

#define TP_LUA_NAME_MAX 64
#define TP_LUA_LIVE_MAX 16 /* distinct messages one call can read (the contract nests 2) */
#define TP_LUA_SLICE_MS 10 /* the watchdog's period; a call is counted past half of it (CPU) */

#define TP_LUA_PATHS_MAX  16 /* fields a rule declares */
#define TP_LUA_PATH_DEPTH 4  /* field names in one path */

/* A field path ("call.status") resolved to its descriptors (tp_lua_ev.c);
 * depth 0: no such field. */
typedef struct {
    unsigned                        depth;
    const ProtobufCFieldDescriptor *f[TP_LUA_PATH_DEPTH];
} tp_lua_path_t;

#define TP_LUA_WHERE_MAX    8  /* conditions in a rule's `where` */
#define TP_LUA_WHERE_VALUES 16 /* values one condition accepts */

/* One condition of `where`: the field at path has one of n values
 * (numbers for integers, bools and enums; strings, owned, for strings). */
typedef struct {
    tp_lua_path_t path;
    unsigned      n;
    int64_t       num[TP_LUA_WHERE_VALUES];
    char         *str[TP_LUA_WHERE_VALUES];
} tp_lua_cond_t;

typedef struct tp_lua_rule  tp_lua_rule_t;
typedef struct tp_lua_store tp_lua_store_t;

/* One loaded rule file in its own Lua state. */
typedef struct tp_lua_vm {
    lua_State                *L;
    char                     *file;
    char                      name[TP_LUA_NAME_MAX]; /* the table's name */
    Touchpoint__V1__AlertKind kind;
    unsigned                  events;                             /* TP_EV_* */
    int                       on_event, on_deadline, ctx, config; /* registry refs */
    int                       ctx_fields; /* registry ref: what ctx reads (methods, now, config) */
    int64_t                   now_ms;     /* ctx.now as last set (0 when made) */
    uint64_t                  budget;     /* instructions per call */
    uint64_t                  used;       /* instructions of the call under way */
    unsigned                  step;       /* instructions between two hook calls */
    bool                      exact;      /* count every call from its start (see tp_lua_vm_call) */
    size_t                    mem_used, mem_limit;
    bool                      mem_failed; /* an allocation was refused in this call */
    int                       fault;      /* TP_LUA_ERR_* set by the C side during a call */
    uint32_t                  gen;        /* call number: an `ev` from an older call is dead */
    const ProtobufCMessage   *live[TP_LUA_LIVE_MAX];      /* the messages handed to this call */
    const void               *live_type[TP_LUA_LIVE_MAX]; /* their types (tp_lua_ev.c) */
    const void               *msg_types;  /* the contract's types, in the state (tp_lua_ev.c) */
    int                       enum_names; /* registry ref: enums' short names (tp_lua_ev.c) */
    tp_lua_path_t             paths[TP_LUA_PATHS_MAX]; /* the rule's `fields` */
    unsigned                  n_paths;
    tp_lua_cond_t             where[TP_LUA_WHERE_MAX]; /* the rule's `where` */
    unsigned                  n_where;
    unsigned                  n_live;
    tp_lua_rule_t            *rule; /* who runs it (NULL while only checked) */
} tp_lua_vm_t;

/* ---- tp_lua_vm.c ---- */

/* Loads `file` (source text `src`) with its config into a new sandboxed
 * state and checks the table it returns. 0, or -EINVAL with "file:line:
 * message" in err, or -ENOMEM. */
int  tp_lua_vm_new(const tp_lua_rule_conf_t *conf, const char *src, size_t len, char *err,
                   size_t errlen, tp_lua_vm_t **ret);
void tp_lua_vm_destroy(tp_lua_vm_t **p);

/* Calls the function below the nargs arguments on the stack, under the
 * budgets. 0, or -ECANCELED with the TP_LUA_ERR_* it was abandoned for in
 * ret_reason and the message in err. */
int tp_lua_vm_call(tp_lua_vm_t *vm, int nargs, int *ret_reason, char *err, size_t errlen);

/* TP_EV_* of an event kind's name ("call", the Envelope's payload field
 * too), 0 if none. */
unsigned tp_lua_event_bit(const char *name);

/* The count hook: adds up a call's instructions, raises past the budget. */
void tp_lua_count_hook(lua_State *L, lua_Debug *ar);

/* The vm of the state L (every thread of it). */
static inline tp_lua_vm_t *tp_lua_vm_of(lua_State *L) {
    return *(tp_lua_vm_t **)lua_getextraspace(L);
}

/* Replaces the table at the top of the stack with a read-only view of it:
 * an empty table whose metatable (locked) has the table as __index (a
 * read is a table lookup, not a C call) and `refuse` as __newindex. */
void tp_lua_readonly(lua_State *L, lua_CFunction refuse);

/* Raises a Lua error that counts as a bad argument to ctx. */
int tp_lua_bad_arg(lua_State *L, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- tp_lua_text.c ---- */

/* Pushes the read-only `text` library table. */
void tp_lua_text_open(lua_State *L);

/* ---- tp_lua_watch.c ---- */

/* A call of vm starts on this thread: true if the watchdog watches it (it
 * installs the count hook if the call runs long), false if the caller
 * must count it from the start. tp_lua_watch_end after a true. */
bool tp_lua_watch_begin(tp_lua_vm_t *vm);
void tp_lua_watch_end(tp_lua_vm_t *vm);

/* ---- tp_lua_ctx.c ---- */

/* Makes the ctx object of a fresh state (registry ref in vm->ctx); the
 * metatable of events too (tp_lua_ev_open). */
int tp_lua_ctx_open(tp_lua_vm_t *vm);
/* Sets ctx.now for the next call. */
void tp_lua_ctx_set_now(tp_lua_vm_t *vm, int64_t now_ms);

/* ---- tp_lua_ev.c ---- */

/* Sets the metatable of events (of every light userdata) in a fresh state. */
void tp_lua_ev_open(lua_State *L);
/* Pushes the decoded message m as a read-only, lazily read object. */
void tp_lua_push_message(lua_State *L, const ProtobufCMessage *m);
/* The `fields` list of the rule table at the top of the stack (absent:
 * none) into vm->paths. 0, or -EINVAL with "file: ..." in err. */
int tp_lua_ev_paths(tp_lua_vm_t *vm, char *err, size_t errlen);
/* Pushes the value of each of vm->paths in the Envelope env (nil where
 * unset); `enums` is the stack index of the enum names table. */
void tp_lua_push_paths(tp_lua_vm_t *vm, const ProtobufCMessage *env, int enums);

/* Resolves a field path ("call.status", len bytes) from the Envelope into
 * p. 0, or -EINVAL with the reason in why (no such field included). */
int tp_lua_path_resolve(const char *k, size_t len, tp_lua_path_t *p, char *why, size_t whylen);
/* The message of m holding the last field of path p, or NULL if a message
 * on the way is unset (or the field is a oneof member not set). */
const char *tp_lua_path_base(const ProtobufCMessage *m, const tp_lua_path_t *p);
/* "CALL_STATUS_SUBMITTED" of enum CallStatus -> "SUBMITTED" (the full
 * name if it does not start with the enum's; NULL: no such value). */
const char *tp_lua_enum_short(const ProtobufCEnumDescriptor *d, int v);

/* ---- tp_lua_where.c ---- */

/* The `where` map of the rule table at the top of the stack (absent:
 * none) into vm->where. 0, or -EINVAL with "file: where[...]: ..." in err. */
int tp_lua_where_parse(tp_lua_vm_t *vm, char *err, size_t errlen);
/* Whether the Envelope env passes every condition of vm->where. */
bool tp_lua_where_match(const tp_lua_vm_t *vm, const ProtobufCMessage *env);
/* Frees the strings of vm->where. */
void tp_lua_where_free(tp_lua_vm_t *vm);

/* ---- tp_lua_rule.c ---- */

struct tp_lua_rule {
    tp_rule_t            rule; /* what the ruleset calls; name = vm name */
    char                 name[TP_LUA_NAME_MAX];
    tp_lua_vm_t         *vm;
    tp_lua_store_t      *store;
    uint32_t             owner;
    const tp_rule_ctx_t *ctx;      /* during a call */
    const char          *event_id; /* during on_event */
    uint64_t             calls;
    uint64_t             errors[TP_LUA_ERR_COUNT];
    char                 last_error[600];
    tp_ratelimit_t       rl;
};

/* A rule running vm (taken) as deadline owner `owner`. 0 or -ENOMEM. */
int tp_lua_rule_new(tp_lua_vm_t *vm, uint32_t owner, const tp_config_t *cfg, tp_lua_rule_t **ret);
/* Swaps in a reloaded vm; the old one is destroyed. */
void tp_lua_rule_swap(tp_lua_rule_t *r, tp_lua_vm_t *vm);

/* ---- tp_lua_store.c ---- */

int  tp_lua_store_new(tp_lua_store_t **ret);
void tp_lua_store_destroy(tp_lua_store_t **p);
/* Pushes the value of key (nil if none or expired at now_ms). */
void tp_lua_store_get(tp_lua_store_t *s, lua_State *L, const char *key, int64_t now_ms);
/* Stores the value at stack index idx (nil deletes); ttl_ms 0 = no expiry.
 * 0, -EINVAL (not a storable value: the message in err), -ENOSPC, -ENOMEM. */
int    tp_lua_store_put(tp_lua_store_t *s, lua_State *L, const char *key, int idx, int64_t now_ms,
                        int64_t ttl_ms, char *err, size_t errlen);
size_t tp_lua_store_count(const tp_lua_store_t *s);
/* Snapshots: every entry as stored (expiry included) and the sweep count.
 * Load into an empty store: 0, -EBADMSG (not a store), -ENOMEM. */
void tp_lua_store_save(const tp_lua_store_t *s, tp_snapw_t *w);
int  tp_lua_store_load(tp_lua_store_t *s, tp_snapr_t *r);
