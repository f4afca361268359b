/* tp_config_yaml — the YAML walker: libyaml's document in, keys of the
 * table (tp_config_keys.c) handed to their setters (tp_config_types.c).
 *
 * Loads one document (refusing a second one and deep nesting before a tree
 * is built), walks its mappings against a key table, recursing into
 * sections, and refuses unknown and duplicate keys. Every error is one line
 * "name:line: message", the line taken from the node's mark (1-based).
 * Defaults are YAML text in the table and go through the same setters as the
 * operator's file, so a default can never bypass validation.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <yaml.h>

#include "tp_config_internal.h"
#include "tp_errline.h"

/* The format attribute is on the declaration (tp_config_internal.h). */
int tp_config_fail(tp_config_ctx_t *p, const yaml_node_t *n, const char *fmt, ...) {
    /* Defaults are table text, not lines of the file: line 0. */
    long    line = !n ? -1 : p->defaults ? 0 : (long)n->start_mark.line + 1;
    va_list ap;
    va_start(ap, fmt);
    tp_errline_vformat(p->err, p->errlen, p->name, line, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

const char *tp_config_node_kind(const yaml_node_t *n) {
    return n->type == YAML_MAPPING_NODE    ? "mapping"
           : n->type == YAML_SEQUENCE_NODE ? "list"
                                           : "scalar";
}

bool tp_config_node_is_null(const yaml_node_t *n) {
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *v = (const char *)n->data.scalar.value;
    return !*v || !strcmp(v, "~") || !strcmp(v, "null");
}

/* The text of a scalar node, refusing other node kinds and embedded NULs. */
int tp_config_node_text(tp_config_ctx_t *p, const char *path, const yaml_node_t *n,
                        const char **ret_text) {
    if (n->type != YAML_SCALAR_NODE)
        return tp_config_fail(p, n, "%s: expected a scalar, got a %s", path,
                              tp_config_node_kind(n));
    const char *v = (const char *)n->data.scalar.value;
    if (strlen(v) != n->data.scalar.length)
        return tp_config_fail(p, n, "%s: value contains a NUL byte", path);
    *ret_text = v;
    return 0;
}

int tp_config_node_expect(tp_config_ctx_t *p, const char *path, const yaml_node_t *n,
                          yaml_node_type_t t) {
    if (n->type == t)
        return 0;
    return tp_config_fail(p, n, "%s: expected a %s, got a %s", path,
                          t == YAML_MAPPING_NODE ? "mapping" : "list", tp_config_node_kind(n));
}

/* Key of pair `pr` in `map`: a scalar not already used by an earlier pair. */
int tp_config_pair_key(tp_config_ctx_t *p, const char *path, yaml_node_t *map, yaml_node_pair_t *pr,
                       yaml_node_t **ret_node, const char **ret_key) {
    yaml_node_t *kn = yaml_document_get_node(p->doc, pr->key);
    const char  *key = ""; /* set by tp_config_node_text; -O3 cannot see it */
    int          r = tp_config_node_text(p, *path ? path : "top level", kn, &key);
    if (r < 0)
        return r;
    for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < pr; q++) {
        yaml_node_t *qn = yaml_document_get_node(p->doc, q->key);
        if (qn->type == YAML_SCALAR_NODE && !strcmp((const char *)qn->data.scalar.value, key))
            return tp_config_fail(p, kn, "duplicate key \"%s%s%.64s\"", path, *path ? "." : "",
                                  key);
    }
    *ret_node = kn;
    *ret_key = key;
    return 0;
}

/* libyaml's problem text and line, as one "YAML syntax error" line. */
static int s_syntax(tp_config_ctx_t *p, const yaml_parser_t *parser) {
    yaml_node_t at = { .start_mark = parser->problem_mark };
    if (parser->error == YAML_MEMORY_ERROR)
        return -ENOMEM;
    if (parser->context)
        return tp_config_fail(p, &at, "YAML syntax error: %s %s started on line %zu",
                              parser->problem, parser->context, parser->context_mark.line + 1);
    return tp_config_fail(p, &at, "YAML syntax error: %s",
                          parser->problem ? parser->problem : "unknown");
}

/* Loads the single YAML document in `text`. A first pass over events refuses
 * a second document and deep nesting before any tree is built: libyaml's
 * scanner is quadratic in flow depth, so "[[[[..." in a 1 MiB file would
 * otherwise stall start-up for minutes. */
int tp_config_yaml_load(tp_config_ctx_t *p, const char *text, size_t len,
                        yaml_document_t *ret_doc) {
    yaml_parser_t   parser;
    yaml_document_t doc;
    yaml_event_t    ev;
    int             r = 0, depth = 0, docs = 0;
    bool            done = false;

    if (!yaml_parser_initialize(&parser))
        return -ENOMEM;
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    while (r == 0 && !done) {
        if (!yaml_parser_parse(&parser, &ev)) {
            r = s_syntax(p, &parser);
            break;
        }
        yaml_node_t at = { .start_mark = ev.start_mark };
        if (ev.type == YAML_DOCUMENT_START_EVENT && ++docs > 1)
            r = tp_config_fail(p, &at, "expected a single YAML document, found another one");
        else if ((ev.type == YAML_SEQUENCE_START_EVENT || ev.type == YAML_MAPPING_START_EVENT) &&
                 ++depth > TP_CONFIG_MAX_DEPTH)
            r = tp_config_fail(p, &at, "nesting deeper than %d levels", TP_CONFIG_MAX_DEPTH);
        else if (ev.type == YAML_SEQUENCE_END_EVENT || ev.type == YAML_MAPPING_END_EVENT)
            depth--;
        done = ev.type == YAML_STREAM_END_EVENT;
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    if (r < 0)
        return r;
    if (!yaml_parser_initialize(&parser))
        return -ENOMEM;
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (yaml_parser_load(&parser, &doc))
        *ret_doc = doc;
    else
        r = s_syntax(p, &parser);
    yaml_parser_delete(&parser);
    return r;
}

static const tp_config_key_t *s_find(const tp_config_key_t *keys, size_t n_keys, const char *path) {
    for (size_t i = 0; i < n_keys; i++)
        if (!strcmp(keys[i].path, path))
            return &keys[i];
    return NULL;
}

/* Is `path` a proper prefix (a section) of some key? */
static bool s_is_section(const tp_config_key_t *keys, size_t n_keys, const char *path) {
    size_t len = strlen(path);
    for (size_t i = 0; i < n_keys; i++)
        if (!strncmp(keys[i].path, path, len) && keys[i].path[len] == '.')
            return true;
    return false;
}

/* Walks a mapping whose keys are `rel`.KEY in `keys`; sections recurse.
 * `root` prefixes the key in messages ("inputs[2]"). */
int tp_config_walk(tp_config_ctx_t *p, const tp_config_key_t *keys, size_t n_keys, const char *root,
                   const char *rel, void *base, yaml_node_t *map) {
    char where[TP_CONFIG_PATH_LEN];
    snprintf(where, sizeof(where), "%s%s%s", root, *root && *rel ? "." : "", rel);
    for (yaml_node_pair_t *pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top;
         pr++) {
        yaml_node_t *kn, *vn = yaml_document_get_node(p->doc, pr->value);
        const char  *key;
        char         sub[TP_CONFIG_PATH_LEN], path[TP_CONFIG_PATH_LEN];
        int          r = tp_config_pair_key(p, where, map, pr, &kn, &key);
        if (r < 0)
            return r;
        /* A key too long for the buffers is no key of ours. */
        bool fits =
            snprintf(sub, sizeof(sub), "%s%s%s", rel, *rel ? "." : "", key) < TP_CONFIG_PATH_LEN &&
            snprintf(path, sizeof(path), "%s%s%s", root, *root ? "." : "", sub) <
                TP_CONFIG_PATH_LEN;
        const tp_config_key_t *k = fits ? s_find(keys, n_keys, sub) : NULL;
        if (k)
            r = tp_config_setters[k->type](p, k, path, base, vn);
        else if (!fits || !s_is_section(keys, n_keys, sub))
            r = tp_config_fail(p, kn, "unknown key \"%.100s\"", fits ? path : key);
        else if (tp_config_node_is_null(vn))
            r = 0; /* "rules:" with nothing under it: all defaults */
        else if ((r = tp_config_node_expect(p, path, vn, YAML_MAPPING_NODE)) == 0)
            r = tp_config_walk(p, keys, n_keys, root, sub, base, vn);
        if (r < 0)
            return r;
    }
    return 0;
}

/* Runs each key's default YAML through its own setter. */
int tp_config_apply_defaults(tp_config_ctx_t *p, const tp_config_key_t *keys, size_t n_keys,
                             void *base) {
    yaml_document_t *user = p->doc;
    bool             was = p->defaults;
    int              r = 0;
    p->defaults = true;
    for (size_t i = 0; i < n_keys && r >= 0; i++) {
        yaml_document_t doc;
        if (!keys[i].def)
            continue;
        if ((r = tp_config_yaml_load(p, keys[i].def, strlen(keys[i].def), &doc)) < 0)
            break;
        p->doc = &doc;
        r = tp_config_setters[keys[i].type](p, &keys[i], keys[i].path, base,
                                            yaml_document_get_root_node(&doc));
        yaml_document_delete(&doc);
    }
    p->doc = user;
    p->defaults = was;
    return r;
}
