/* tp_lua_rules — rules that integration teams write in Lua 5.4
 * (config `lua_rules`, docs/lua-rules.md).
 *
 * Each file listed becomes one rule in the engine's ruleset, beside the
 * built-in ones (tp_ruleset_add): same alert ids "<rule>:<subject>", dedup,
 * lifecycle, journal and replay. Its deadlines (ctx:arm) and key/value
 * state (ctx:put) live in the engine: a snapshot holds them (by rule
 * name, tp_lua_rules_save) and a replay of the event log rebuilds them,
 * as it does the built-in rules' state.
 *
 * Each rule runs in its own sandboxed Lua state: no io, os, require,
 * debug, bytecode; globals read-only; time only through ctx.now. A call
 * that runs past its instruction budget, allocates past its memory budget,
 * raises an error or hands ctx a bad argument is abandoned, counted per
 * rule and reason, and logged (rate limited); the engine goes on.
 *
 * Called by the engine (new, reconfigure on SIGHUP, stats for /metrics)
 * and by main (--check-config).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "tp_config.h"

struct tp_rule_ctx;
struct tp_ruleset;

/* Why a call was abandoned. */
enum {
    TP_LUA_ERR_INSTRUCTIONS, /* over budget.instructions */
    TP_LUA_ERR_MEMORY,       /* over budget.memory */
    TP_LUA_ERR_ERROR,        /* error() or a runtime error */
    TP_LUA_ERR_BAD_ARGUMENT, /* a bad argument to a ctx method */
    TP_LUA_ERR_STORE_FULL,   /* ctx:put past the store's limit */
    TP_LUA_ERR_COUNT,
};

/* "instructions", "memory", "error", "bad_argument", "store_full". */
const char *tp_lua_error_reason(int reason);

typedef struct tp_lua_rules tp_lua_rules_t;

/* Loads every file of ctx->cfg->lua_rules and adds its rule to rs. A file
 * that does not load is an error here (logged "file:line: message"):
 * the daemon does not start without a rule its config names. 0 or -errno. */
int tp_lua_rules_new(const struct tp_rule_ctx *ctx, struct tp_ruleset *rs, tp_lua_rules_t **ret);

/* Applies a reloaded config (ctx->cfg): files no longer listed are taken
 * out (their alerts resolved, reason rule_disabled); new ones added; a
 * listed file whose text or settings changed is loaded again and, if that
 * works, replaces the running version keeping its alerts, deadlines and
 * state. A file that fails to load is logged and its previous version (if
 * any) keeps running. Returns how many files failed. */
size_t tp_lua_rules_reconfigure(tp_lua_rules_t *l, const struct tp_rule_ctx *ctx,
                                struct tp_ruleset *rs);

/* Loads every lua_rules file of cfg into a throw-away state (what
 * --check-config runs). 0, or -EINVAL with "file:line: message" in err. */
int tp_lua_rules_check(const tp_config_t *cfg, char *err, size_t errlen);

typedef struct {
    const char *name;
    const char *file;
    uint64_t    calls;
    uint64_t    errors[TP_LUA_ERR_COUNT];
    const char *last_error; /* "" if none */
    size_t      keys;       /* entries in its ctx:put store */
    size_t      memory;     /* bytes its Lua state holds */
} tp_lua_rule_stats_t;

/* Up to max rules' counters into out; returns how many rules there are. */
size_t tp_lua_rules_stats(const tp_lua_rules_t *l, tp_lua_rule_stats_t *out, size_t max);

/* Snapshots (tp_snapio; the engine's section): each rule's name, file,
 * deadline owner slot, a hash of its text and config, and its ctx:put
 * store. Its deadlines are in the engine's timers, its alerts in the alert
 * table. Loading matches rules by name, so a restart with other files
 * never fails for them: a rule no longer configured has its store and
 * deadlines dropped (and its open alerts resolved later, see
 * tp_lua_rules_resolve_gone); a new one starts empty; one whose file or config
 * changed keeps its store and deadlines, as a reload does; deadlines
 * follow their rule into its slot now. Each case is logged. Load into
 * the rules of an engine just made, after its timers: 0, -EBADMSG,
 * -ENOMEM. */
struct tp_snapw;
struct tp_snapr;
void tp_lua_rules_save(const tp_lua_rules_t *l, struct tp_snapw *w);
int  tp_lua_rules_load(tp_lua_rules_t *l, const struct tp_rule_ctx *ctx, struct tp_snapr *r);

/* Once the state is rebuilt (snapshot and event log after it) and alerts
 * go out again: resolves the open alerts of the snapshot's rules that are
 * no longer configured (reason rule_disabled, as a reload that unlists a
 * rule does; during the load they could not be: the alert would go out
 * before the rebuild is over). Once; the number resolved. */
size_t tp_lua_rules_resolve_gone(tp_lua_rules_t *l, const struct tp_rule_ctx *ctx);

/* Frees the set (the rules themselves belong to the ruleset); NULL-safe. */
void tp_lua_rules_destroy(tp_lua_rules_t **p);
