/* tp_config_lua — the setters of `lua_rules` (daemon/rules/lua): the list
 * of rule files, each rule's free-form `config` kept as a tree for
 * ctx.config, and byte sizes ("4MiB") for its memory budget. The Lua files
 * themselves are read by the rules module, not here: the config module
 * knows no Lua. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tp_config_internal.h"

#define TREE_MAX_ITEMS 1024 /* entries of one list or map in a rule's config */

void tp_config_tree_clear(tp_config_tree_t *t) {
    if (!t)
        return;
    for (size_t i = 0; i < t->n_items; i++)
        tp_config_tree_clear(&t->items[i]);
    free(t->items);
    free(t->key);
    free(t->str);
    *t = (tp_config_tree_t){ .kind = TP_TREE_MAP };
}

/* A plain scalar: boolean, integer, duration (ms), number, else string. */
static int s_scalar(const yaml_node_t *n, const char *v, tp_config_tree_t *t) {
    bool plain = n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    t->kind = TP_TREE_STRING;
    if (plain && (!strcmp(v, "true") || !strcmp(v, "false"))) {
        t->kind = TP_TREE_BOOL;
        t->integer = !strcmp(v, "true");
        return 0;
    }
    if (plain && (tp_config_parse_i64(v, true, &t->integer) == 0 ||
                  tp_config_duration_parse(v, &t->integer) == 0)) {
        t->kind = TP_TREE_INTEGER;
        return 0;
    }
    char *end = NULL;
    if (plain && *v) {
        double d = strtod(v, &end);
        if (end && !*end && isfinite(d)) {
            t->kind = TP_TREE_NUMBER;
            t->number = d;
            return 0;
        }
    }
    return (t->str = strdup(v)) ? 0 : -ENOMEM;
}

static int s_tree(tp_config_ctx_t *p, const char *path, yaml_node_t *n, tp_config_tree_t *t,
                  unsigned depth) {
    if (depth > 8)
        return tp_config_fail(p, n, "%s: nested deeper than 8 levels", path);
    if (n->type == YAML_SCALAR_NODE) {
        const char *v;
        int         r = tp_config_node_text(p, path, n, &v);
        return r < 0 ? r : s_scalar(n, v, t);
    }
    bool   map = n->type == YAML_MAPPING_NODE;
    size_t count = map ? (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start)
                       : (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    t->kind = map ? TP_TREE_MAP : TP_TREE_LIST;
    if (count > TREE_MAX_ITEMS)
        return tp_config_fail(p, n, "%s: more than %d entries", path, TREE_MAX_ITEMS);
    if (count && !(t->items = calloc(count, sizeof *t->items)))
        return -ENOMEM;
    for (size_t i = 0; i < count; i++) {
        char         sub[TP_CONFIG_PATH_LEN];
        yaml_node_t *vn;
        int          r;
        if (map) {
            yaml_node_pair_t *pr = &n->data.mapping.pairs.start[i];
            yaml_node_t      *kn;
            const char       *key;
            if ((r = tp_config_pair_key(p, path, n, pr, &kn, &key)) < 0)
                return r;
            if (!(t->items[i].key = strdup(key)))
                return -ENOMEM;
            vn = yaml_document_get_node(p->doc, pr->value);
            snprintf(sub, sizeof sub, "%s.%.64s", path, key);
        } else {
            vn = yaml_document_get_node(p->doc, n->data.sequence.items.start[i]);
            snprintf(sub, sizeof sub, "%s[%zu]", path, i);
        }
        t->n_items = i + 1; /* from here on, clear frees this item */
        if ((r = s_tree(p, sub, vn, &t->items[i], depth + 1)) < 0)
            return r;
    }
    return 0;
}

int tp_config_set_tree(tp_config_ctx_t *p, const tp_config_key_t *k, const char *path, void *base,
                       yaml_node_t *n) {
    tp_config_tree_t *dst = (tp_config_tree_t *)(void *)((char *)base + k->off);
    tp_config_tree_t  t = { .kind = TP_TREE_MAP };
    int               r = tp_config_node_expect(p, path, n, YAML_MAPPING_NODE);
    if (r == 0)
        r = s_tree(p, path, n, &t, 0);
    if (r < 0) {
        tp_config_tree_clear(&t);
        return r;
    }
    tp_config_tree_clear(dst);
    *dst = t;
    return 0;
}

/* Bytes, with an optional unit B, KiB, MiB or GiB. */
int tp_config_set_size(tp_config_ctx_t *p, const tp_config_key_t *k, const char *path, void *base,
                       yaml_node_t *n) {
    static const struct {
        const char *unit;
        int64_t     mul;
    } units[] = { { "", 1 }, { "B", 1 }, { "KiB", 1024 }, { "MiB", 1 << 20 }, { "GiB", 1 << 30 } };
    const char *v;
    int         r = tp_config_node_text(p, path, n, &v);
    if (r < 0)
        return r;
    size_t digits = strspn(v, "0123456789");
    char   num[20];
    if (digits > 0 && digits < sizeof num) {
        memcpy(num, v, digits);
        num[digits] = '\0';
        int64_t x;
        for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
            if (!strcmp(v + digits, units[i].unit) && tp_config_parse_i64(num, false, &x) == 0 &&
                x <= k->max / units[i].mul && x * units[i].mul >= k->min) {
                tp_config_store((char *)base + k->off, k->size, x * units[i].mul);
                return 0;
            }
    }
    return tp_config_fail(p, n,
                          "%s: invalid size \"%.64s\" (expected bytes, KiB, MiB or GiB from %lld "
                          "to %lld bytes)",
                          path, v, (long long)k->min, (long long)k->max);
}

int tp_config_set_lua_rules(tp_config_ctx_t *p, const tp_config_key_t *k, const char *path,
                            void *base, yaml_node_t *n) {
    (void)base;
    tp_config_t *c = p->c;
    int          r = tp_config_node_expect(p, path, n, YAML_SEQUENCE_NODE);
    if (r < 0)
        return r;
    size_t count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (count > (size_t)k->max)
        return tp_config_fail(p, n, "%s: at most %lld rules, got %zu", path, (long long)k->max,
                              count);
    for (size_t i = 0; i < c->n_lua_rules; i++) {
        free(c->lua_rules[i].file);
        tp_config_tree_clear(&c->lua_rules[i].config);
        c->lua_rules[i] = (tp_lua_rule_conf_t){ 0 };
    }
    c->n_lua_rules = 0;
    for (size_t i = 0; i < count; i++) {
        yaml_node_t *item = yaml_document_get_node(p->doc, n->data.sequence.items.start[i]);
        char         item_path[32];
        snprintf(item_path, sizeof item_path, "lua_rules[%zu]", i);
        c->n_lua_rules = i + 1; /* from here on, destroy frees this slot */
        if ((r = tp_config_walk_item(p, tp_config_lua_rule_keys, tp_config_n_lua_rule_keys,
                                     item_path, &c->lua_rules[i], item)) < 0)
            return r;
        if (!c->lua_rules[i].file)
            return tp_config_fail(p, item, "%s: missing required key \"file\"", item_path);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(c->lua_rules[j].file, c->lua_rules[i].file))
                return tp_config_fail(p, item, "%s: file \"%.100s\" listed twice", item_path,
                                      c->lua_rules[i].file);
    }
    return 0;
}
