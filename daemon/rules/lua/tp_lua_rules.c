/* tp_lua_rules — the set of Lua rules a config names; see tp_lua_rules.h.
 *
 * Each rule keeps its deadline owner slot for the life of the process, so
 * a reload that replaces a file's version keeps its armed deadlines. Slots
 * are handed out in config order, so a restart (which rebuilds state by
 * replaying the event log) gives the same rule the same slot; one that
 * loads a snapshot taken with other files moves each rule's deadlines to
 * its slot now (tp_lua_rules_load).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tp_hash.h"
#include "tp_log.h"
#include "tp_lua_internal.h"

#define MAX_SOURCE_BYTES (1 << 20)

typedef struct {
    tp_lua_rule_t *rule;   /* owned by the ruleset while added */
    char          *file;   /* the config's path */
    char          *source; /* the text running */
    size_t         len;
    uint64_t       instructions, memory; /* the budgets it runs with */
    char          *config_key;           /* the config tree, flattened: changed = reload */
} slot_t;

struct tp_lua_rules {
    slot_t slots[TP_RULES_MAX_RUNTIME];
    /* Rules of the snapshot loaded that are no longer configured: their
     * alerts still open are resolved once the rebuild is over. */
    char   gone[TP_RULES_MAX_RUNTIME][TP_LUA_NAME_MAX];
    size_t n_gone;
};

/* The whole file, at most MAX_SOURCE_BYTES. 0, or -errno with err. */
static int s_read(const char *file, char **ret, size_t *ret_len, char *err, size_t errlen) {
    FILE *f = fopen(file, "re");
    if (!f) {
        int e = -errno;
        snprintf(err, errlen, "%s: cannot open: %s", file, strerror(-e));
        return e;
    }
    char  *buf = malloc(MAX_SOURCE_BYTES + 1);
    size_t n = buf ? fread(buf, 1, MAX_SOURCE_BYTES + 1, f) : 0;
    int    bad = ferror(f);
    fclose(f);
    if (!buf)
        return -ENOMEM;
    if (bad || n > MAX_SOURCE_BYTES) {
        snprintf(err, errlen, "%s: %s", file, bad ? "read error" : "larger than 1 MiB");
        free(buf);
        return -EINVAL;
    }
    buf[n] = '\0';
    *ret = buf;
    *ret_len = n;
    return 0;
}

/* A text form of a config tree, to see whether a reload changed it. */
static void s_tree_text(const tp_config_tree_t *t, FILE *f) {
    if (t->key)
        fprintf(f, "%s=", t->key);
    switch (t->kind) {
    case TP_TREE_STRING: fprintf(f, "s%zu:%s", strlen(t->str), t->str); break;
    case TP_TREE_INTEGER:
    case TP_TREE_BOOL:
        fprintf(f, "%c%lld", t->kind == TP_TREE_BOOL ? 'b' : 'i', (long long)t->integer);
        break;
    case TP_TREE_NUMBER: fprintf(f, "n%.17g", t->number); break;
    default:
        fputc(t->kind == TP_TREE_LIST ? '[' : '{', f);
        for (size_t i = 0; i < t->n_items; i++) {
            s_tree_text(&t->items[i], f);
            fputc(',', f);
        }
        fputc(t->kind == TP_TREE_LIST ? ']' : '}', f);
    }
}

static char *s_config_key(const tp_config_tree_t *t) {
    char  *buf = NULL;
    size_t len = 0;
    FILE  *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    s_tree_text(t, f);
    fclose(f);
    return buf;
}

/* Reads and loads one configured file. */
static int s_load(const tp_lua_rule_conf_t *conf, char **ret_src, size_t *ret_len, char *err,
                  size_t errlen, tp_lua_vm_t **ret_vm) {
    char  *src;
    size_t len;
    int    r = s_read(conf->file, &src, &len, err, errlen);
    if (r < 0)
        return r;
    if ((r = tp_lua_vm_new(conf, src, len, err, errlen, ret_vm)) < 0) {
        free(src);
        return r;
    }
    *ret_src = src;
    *ret_len = len;
    return 0;
}

static void s_slot_clear(slot_t *s) {
    free(s->file);
    free(s->source);
    free(s->config_key);
    *s = (slot_t){ 0 };
}

static int s_name_taken(const tp_lua_rules_t *l, const char *name, const slot_t *except) {
    for (size_t i = 0; i < TP_RULES_MAX_RUNTIME; i++)
        if (l->slots[i].rule && &l->slots[i] != except && !strcmp(l->slots[i].rule->name, name))
            return 1;
    return 0;
}

/* Adds a new rule for conf into a free slot. */
static int s_add(tp_lua_rules_t *l, const tp_rule_ctx_t *ctx, tp_ruleset_t *rs,
                 const tp_lua_rule_conf_t *conf, char *err, size_t errlen) {
    size_t i = 0;
    while (i < TP_RULES_MAX_RUNTIME && l->slots[i].rule)
        i++;
    if (i == TP_RULES_MAX_RUNTIME) {
        snprintf(err, errlen, "%s: too many Lua rules", conf->file);
        return -ENOSPC;
    }
    slot_t      *s = &l->slots[i];
    tp_lua_vm_t *vm = NULL;
    int          r = s_load(conf, &s->source, &s->len, err, errlen, &vm);
    if (r < 0)
        return r;
    if (s_name_taken(l, vm->name, s)) {
        snprintf(err, errlen, "%s: rule name \"%s\" is used by another Lua rule", conf->file,
                 vm->name);
        r = -EINVAL;
        goto fail;
    }
    uint32_t owner = TP_OWNER_RUNTIME + (uint32_t)i;
    r = -ENOMEM;
    if (!(s->file = strdup(conf->file)) || !(s->config_key = s_config_key(&conf->config)) ||
        tp_lua_rule_new(vm, owner, ctx->cfg, &s->rule) < 0)
        goto fail;
    vm = NULL;
    if ((r = tp_ruleset_add(rs, &s->rule->rule, s->rule, owner)) < 0) {
        s->rule->rule.free(s->rule);
        goto fail;
    }
    s->instructions = conf->instructions;
    s->memory = conf->memory;
    log_info("Lua rule %s loaded from %s", s->rule->name, conf->file);
    return 0;
fail:
    tp_lua_vm_destroy(&vm);
    s_slot_clear(s);
    return r;
}

int tp_lua_rules_new(const tp_rule_ctx_t *ctx, tp_ruleset_t *rs, tp_lua_rules_t **ret) {
    tp_lua_rules_t *l = calloc(1, sizeof *l);
    if (!l)
        return -ENOMEM;
    for (size_t i = 0; i < ctx->cfg->n_lua_rules; i++) {
        char err[512];
        int  r = s_add(l, ctx, rs, &ctx->cfg->lua_rules[i], err, sizeof err);
        if (r < 0) {
            log_error("Failed to load Lua rule: %s", err);
            /* the rules already added belong to rs, which the caller frees */
            for (size_t j = 0; j < TP_RULES_MAX_RUNTIME; j++)
                s_slot_clear(&l->slots[j]);
            free(l);
            return r;
        }
    }
    *ret = l;
    return 0;
}

size_t tp_lua_rules_reconfigure(tp_lua_rules_t *l, const tp_rule_ctx_t *ctx, tp_ruleset_t *rs) {
    const tp_config_t *cfg = ctx->cfg;
    size_t             failed = 0;
    char               err[512];
    /* Files no longer listed go first (their names become free). */
    for (size_t i = 0; i < TP_RULES_MAX_RUNTIME; i++) {
        slot_t *s = &l->slots[i];
        bool    listed = false;
        for (size_t j = 0; s->rule && j < cfg->n_lua_rules; j++)
            listed |= !strcmp(cfg->lua_rules[j].file, s->file);
        if (!s->rule || listed)
            continue;
        log_info("Lua rule %s (%s) no longer configured", s->rule->name, s->file);
        tp_ruleset_remove(rs, ctx, TP_OWNER_RUNTIME + (uint32_t)i);
        s_slot_clear(s);
    }
    for (size_t j = 0; j < cfg->n_lua_rules; j++) {
        const tp_lua_rule_conf_t *conf = &cfg->lua_rules[j];
        slot_t                   *s = NULL;
        for (size_t i = 0; i < TP_RULES_MAX_RUNTIME && !s; i++)
            if (l->slots[i].rule && !strcmp(l->slots[i].file, conf->file))
                s = &l->slots[i];
        if (!s) {
            if (s_add(l, ctx, rs, conf, err, sizeof err) < 0) {
                log_error("Failed to load Lua rule: %s", err);
                failed++;
            }
            continue;
        }
        char        *src = NULL, *key = s_config_key(&conf->config);
        size_t       len = 0;
        tp_lua_vm_t *vm = NULL;
        int          r = s_read(conf->file, &src, &len, err, sizeof err);
        bool         same = r == 0 && key && len == s->len && !memcmp(src, s->source, len) &&
                    !strcmp(key, s->config_key) && conf->instructions == s->instructions &&
                    conf->memory == s->memory;
        if (r < 0 || same) {
            if (r < 0) {
                log_error("Failed to reload Lua rule %s, keeping the running version: %s",
                          s->rule->name, err);
                failed++;
            }
            free(src);
            free(key);
            continue;
        }
        r = tp_lua_vm_new(conf, src, len, err, sizeof err, &vm);
        if (r == 0 && strcmp(vm->name, s->rule->name) && s_name_taken(l, vm->name, s)) {
            snprintf(err, sizeof err, "%s: rule name \"%s\" is used by another Lua rule",
                     conf->file, vm->name);
            r = -EINVAL;
        }
        if (r < 0 || !key) {
            log_error("Failed to reload Lua rule %s, keeping the running version: %s",
                      s->rule->name, r < 0 ? err : "out of memory");
            tp_lua_vm_destroy(&vm);
            free(src);
            free(key);
            failed++;
            continue;
        }
        if (strcmp(vm->name, s->rule->name)) {
            /* Another name is another rule: the old one's alerts resolve. */
            log_info("Lua rule %s renamed %s in %s", s->rule->name, vm->name, conf->file);
            tp_ruleset_remove(rs, ctx, TP_OWNER_RUNTIME + (uint32_t)(s - l->slots));
            s_slot_clear(s);
            tp_lua_vm_destroy(&vm);
            free(src);
            free(key);
            if (s_add(l, ctx, rs, conf, err, sizeof err) < 0) {
                log_error("Failed to load Lua rule: %s", err);
                failed++;
            }
            continue;
        }
        tp_lua_rule_swap(s->rule, vm);
        free(s->source);
        free(s->config_key);
        s->source = src;
        s->len = len;
        s->config_key = key;
        s->instructions = conf->instructions;
        s->memory = conf->memory;
        log_info("Lua rule %s reloaded from %s", s->rule->name, conf->file);
    }
    return failed;
}

int tp_lua_rules_check(const tp_config_t *cfg, char *err, size_t errlen) {
    char names[TP_MAX_LUA_RULES][TP_LUA_NAME_MAX];
    for (size_t i = 0; i < cfg->n_lua_rules; i++) {
        char        *src;
        size_t       len;
        tp_lua_vm_t *vm;
        int          r = s_load(&cfg->lua_rules[i], &src, &len, err, errlen, &vm);
        if (r < 0)
            return r == -ENOMEM ? r : -EINVAL;
        snprintf(names[i], sizeof names[i], "%s", vm->name);
        tp_lua_vm_destroy(&vm);
        free(src);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(names[i], names[j])) {
                snprintf(err, errlen, "%s: rule name \"%s\" is used by %s too",
                         cfg->lua_rules[i].file, names[i], cfg->lua_rules[j].file);
                return -EINVAL;
            }
    }
    return 0;
}

size_t tp_lua_rules_stats(const tp_lua_rules_t *l, tp_lua_rule_stats_t *out, size_t max) {
    size_t n = 0;
    for (size_t i = 0; l && i < TP_RULES_MAX_RUNTIME; i++) {
        const slot_t *s = &l->slots[i];
        if (!s->rule)
            continue;
        if (n < max) {
            out[n] = (tp_lua_rule_stats_t){
                .name = s->rule->name,
                .file = s->file,
                .calls = s->rule->calls,
                .last_error = s->rule->last_error,
                .keys = tp_lua_store_count(s->rule->store),
                .memory = s->rule->vm->mem_used,
            };
            memcpy(out[n].errors, s->rule->errors, sizeof out[n].errors);
        }
        n++;
    }
    return n;
}

/* ---- Snapshots ---- */
#define LUA_SNAP_VERSION 1

/* What a reload compares (text and config), as one hash. */
static uint64_t s_version_hash(const slot_t *s) {
    uint64_t h = XXH3_64bits(s->source, s->len);
    h = XXH3_64bits_withSeed(s->config_key, strlen(s->config_key), h);
    uint64_t budgets[2] = { s->instructions, s->memory };
    return XXH3_64bits_withSeed(budgets, sizeof budgets, h);
}

void tp_lua_rules_save(const tp_lua_rules_t *l, tp_snapw_t *w) {
    uint64_t n = 0;
    for (size_t i = 0; i < TP_RULES_MAX_RUNTIME; i++)
        n += l->slots[i].rule != NULL;
    tp_snapw_section(w, TP_SNAP_TAG('L', 'U', 'A', 'R'), LUA_SNAP_VERSION);
    tp_snapw_u64(w, n);
    for (size_t i = 0; i < TP_RULES_MAX_RUNTIME; i++) {
        const slot_t *s = &l->slots[i];
        if (!s->rule)
            continue;
        tp_snapw_str(w, s->rule->name);
        tp_snapw_str(w, s->file);
        tp_snapw_u64(w, s->rule->owner);
        tp_snapw_u64(w, s_version_hash(s));
        tp_lua_store_save(s->rule->store, w);
    }
}

/* The saved rule `name` (owner `owner`, from `file`, version hash `h`):
 * its store into the rule of that name running now, or dropped with its
 * deadlines. to[]: where its deadlines go. */
static int s_load_rule(tp_lua_rules_t *l, const tp_rule_ctx_t *ctx, tp_snapr_t *r, const char *name,
                       const char *file, uint32_t owner, uint64_t h, uint32_t *to, bool *seen) {
    slot_t *s = NULL;
    for (size_t i = 0; i < TP_RULES_MAX_RUNTIME && !s; i++)
        if (l->slots[i].rule && !strcmp(l->slots[i].rule->name, name))
            s = &l->slots[i];
    if (s && seen[s - l->slots])
        return -EBADMSG; /* two saved rules of one name */
    if (s) {
        seen[s - l->slots] = true;
        to[owner - TP_OWNER_RUNTIME] = s->rule->owner;
        int k = tp_lua_store_load(s->rule->store, r);
        if (k == 0 && (h != s_version_hash(s) || strcmp(file, s->file)))
            log_info("Lua rule %s: %s changed since the snapshot; its %zu stored values and "
                     "deadlines are kept, as a reload keeps them",
                     name, s->file, tp_lua_store_count(s->rule->store));
        return k;
    }
    tp_lua_store_t *gone = NULL;
    int             k = tp_lua_store_new(&gone);
    if (k == 0)
        k = tp_lua_store_load(gone, r);
    if (k == 0) {
        size_t deadlines = tp_timers_cancel_owner(ctx->timers, owner);
        log_info("Lua rule %s (%s) in the snapshot is no longer configured: its %zu stored values "
                 "and %zu deadlines dropped, its open alerts resolved once the state is rebuilt",
                 name, file, tp_lua_store_count(gone), deadlines);
        if (l->n_gone < TP_RULES_MAX_RUNTIME) /* n <= TP_RULES_MAX_RUNTIME (the caller) */
            snprintf(l->gone[l->n_gone++], TP_LUA_NAME_MAX, "%s", name);
    }
    tp_lua_store_destroy(&gone);
    return k;
}

int tp_lua_rules_load(tp_lua_rules_t *l, const tp_rule_ctx_t *ctx, tp_snapr_t *r) {
    uint32_t to[TP_RULES_MAX_RUNTIME];
    bool     seen[TP_RULES_MAX_RUNTIME] = { false }, taken[TP_RULES_MAX_RUNTIME] = { false };
    uint64_t n = 0;
    int      k = tp_snapr_section(r, TP_SNAP_TAG('L', 'U', 'A', 'R'), LUA_SNAP_VERSION, NULL);
    if (k < 0 || (k = tp_snapr_u64(r, &n)) < 0)
        return k;
    if (n > TP_RULES_MAX_RUNTIME)
        return -EBADMSG;
    for (size_t i = 0; i < TP_RULES_MAX_RUNTIME; i++)
        to[i] = UINT32_MAX; /* dropped, unless its rule runs now */
    for (uint64_t i = 0; i < n; i++) {
        char     name[TP_LUA_NAME_MAX], *file = NULL;
        uint64_t owner = 0, h = 0;
        size_t   at;
        if ((k = tp_snapr_strbuf(r, name, sizeof name)) < 0 ||
            (k = tp_snapr_str(r, 4096, &file)) < 0 || (k = tp_snapr_u64(r, &owner)) < 0 ||
            (k = tp_snapr_u64(r, &h)) < 0)
            ;
        else if (!file || owner < TP_OWNER_RUNTIME ||
                 (at = owner - TP_OWNER_RUNTIME) >= TP_RULES_MAX_RUNTIME || taken[at])
            k = -EBADMSG;
        else {
            taken[at] = true;
            k = s_load_rule(l, ctx, r, name, file, (uint32_t)owner, h, to, seen);
        }
        free(file);
        if (k < 0)
            return k;
    }
    bool moved = false;
    for (size_t i = 0; i < TP_RULES_MAX_RUNTIME; i++) {
        moved |= taken[i] && to[i] != TP_OWNER_RUNTIME + i;
        const slot_t *s = &l->slots[i];
        if (s->rule && !seen[i])
            log_info("Lua rule %s (%s) was not running when the snapshot was taken: it starts "
                     "with no stored values and no deadlines",
                     s->rule->name, s->file);
    }
    /* Slots are handed out in config order: another list of files puts a
     * rule in another slot, and its deadlines must follow it there. */
    if (moved) {
        long dropped =
            tp_timers_move_owners(ctx->timers, TP_OWNER_RUNTIME, TP_RULES_MAX_RUNTIME, to);
        if (dropped < 0)
            return (int)dropped;
    }
    return 0;
}

size_t tp_lua_rules_resolve_gone(tp_lua_rules_t *l, const tp_rule_ctx_t *ctx) {
    static const tp_kv_t ev[] = { { "reason", "rule_disabled" } };
    size_t               resolved = 0;
    for (size_t i = 0; i < l->n_gone; i++) {
        char summary[160];
        snprintf(summary, sizeof summary, "Rule %s was switched off by a configuration change",
                 l->gone[i]);
        size_t n = tp_alerts_resolve_rule(ctx->alerts, l->gone[i], summary, ev, 1, ctx->now_ms);
        log_info("Rule %s switched off while the daemon was down: %zu open alerts resolved",
                 l->gone[i], n);
        resolved += n;
    }
    l->n_gone = 0;
    return resolved;
}

void tp_lua_rules_destroy(tp_lua_rules_t **p) {
    tp_lua_rules_t *l = p ? *p : NULL;
    if (!l)
        return;
    for (size_t i = 0; i < TP_RULES_MAX_RUNTIME; i++)
        s_slot_clear(&l->slots[i]);
    free(l);
    *p = NULL;
}
