/* tp_config_doc_yaml — which documented keys a YAML file names (see
 * tp_config_doc.h). Validity and unknown keys are tp_config_parse()'s job;
 * this walk answers the other half: is every key of the table there, set,
 * or written out in a comment where it would go, so that a key added to the
 * table without touching the sample file fails the build's tests.
 */
#include "tp_config_doc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define MAX_DEPTH 8

typedef struct {
    const char *text;
    size_t      len;
    size_t     *line_at; /* byte offset where each line starts */
    size_t      n_lines;
} lines_t;

static const yaml_node_t *s_child(yaml_document_t *doc, const yaml_node_t *map, const char *key) {
    if (!map || map->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        const yaml_node_t *k = yaml_document_get_node(doc, p->key);
        if (k && k->type == YAML_SCALAR_NODE && !strcmp((const char *)k->data.scalar.value, key))
            return yaml_document_get_node(doc, p->value);
    }
    return NULL;
}

static bool s_is_comment(const lines_t *l, size_t i, const char **ret_s, size_t *ret_n) {
    const char *s = l->text + l->line_at[i];
    const char *e = i + 1 < l->n_lines ? l->text + l->line_at[i + 1] : l->text + l->len;
    while (s < e && (*s == ' ' || *s == '\t'))
        s++;
    if (s == e || *s != '#')
        return false;
    *ret_s = s, *ret_n = (size_t)(e - s);
    return true;
}

static bool s_is_blank(const lines_t *l, size_t i) {
    const char *s = l->text + l->line_at[i];
    const char *e = i + 1 < l->n_lines ? l->text + l->line_at[i + 1] : l->text + l->len;
    for (; s < e; s++)
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
            return false;
    return true;
}

/* Does the comment text [s, s+n) hold "key:" as a whole word? */
static bool s_names(const char *s, size_t n, const char *key) {
    size_t kl = strlen(key);
    for (size_t i = 0; i + kl < n; i++) {
        if (memcmp(s + i, key, kl) || s[i + kl] != ':')
            continue;
        char b = i ? s[i - 1] : ' ';
        if (!((b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9') ||
              b == '_'))
            return true;
    }
    return false;
}

/* Commented out: the missing levels comps[0..n) appear in that order in
 * comment lines within the ancestor's lines (and the comments right after). */
static bool s_commented(const lines_t *l, const yaml_node_t *anc, char **comps, size_t n) {
    size_t first = anc->start_mark.line, last = anc->end_mark.line;
    while (last + 1 < l->n_lines &&
           (s_is_blank(l, last + 1) ||
            s_is_comment(l, last + 1, &(const char *){ 0 }, &(size_t){ 0 })))
        last++;
    size_t c = 0;
    for (size_t i = first; i <= last && i < l->n_lines && c < n; i++) {
        const char *s;
        size_t      len;
        if (s_is_comment(l, i, &s, &len) && s_names(s, len, comps[c]))
            c++;
    }
    return c == n;
}

static int s_split(const char *path, char *buf, size_t len, char **comps, size_t *ret_n) {
    if (strlen(path) >= len)
        return -ENAMETOOLONG;
    strcpy(buf, path);
    size_t n = 0;
    for (char *save = NULL, *c = strtok_r(buf, ".", &save); c; c = strtok_r(NULL, ".", &save)) {
        if (n == MAX_DEPTH)
            return -E2BIG;
        comps[n++] = c;
    }
    *ret_n = n;
    return 0;
}

/* Is `key` set in any item of `list` (a sequence of maps) or any value of
 * `map` (a mapping of user-named maps)? */
static bool s_set_in_items(yaml_document_t *doc, const yaml_node_t *node, const char *key) {
    if (node && node->type == YAML_SEQUENCE_NODE) {
        for (yaml_node_item_t *it = node->data.sequence.items.start;
             it < node->data.sequence.items.top; it++)
            if (s_child(doc, yaml_document_get_node(doc, *it), key))
                return true;
    } else if (node && node->type == YAML_MAPPING_NODE) {
        for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top;
             p++)
            if (s_child(doc, yaml_document_get_node(doc, p->value), key))
                return true;
    }
    return false;
}

/* One key: 1 when it is neither set nor (if allowed) commented out. */
static int s_check_key(yaml_document_t *doc, const lines_t *l, const doc_key_t *d,
                       bool allow_commented) {
    char   buf[128];
    char  *comps[MAX_DEPTH + 1];
    size_t n;
    /* A sub-table row is looked up as parent + the row's own name. */
    int r = s_split(d->sub ? d->key->path : d->path, buf, sizeof buf, comps, &n);
    if (r < 0)
        return r;
    const yaml_node_t *node = yaml_document_get_root_node(doc), *anc = node;
    size_t             found = 0;
    if (d->sub) {
        char parent[64];
        snprintf(parent, sizeof parent, "%.*s", (int)strcspn(d->path, ".["), d->path);
        const yaml_node_t *p = s_child(doc, node, parent);
        if (p && s_set_in_items(doc, p, d->key->path))
            return 0;
        if (p)
            anc = p;
        else {
            /* look for the parent, then the row, in comments */
            memmove(comps + 1, comps, n * sizeof comps[0]);
            comps[0] = parent, n++;
        }
    } else {
        for (; found < n; found++) {
            const yaml_node_t *c = s_child(doc, node, comps[found]);
            if (!c)
                break;
            anc = node = c;
        }
        if (found == n)
            return 0;
    }
    return allow_commented && s_commented(l, anc, comps + found, n - found) ? 0 : 1;
}

int tp_doc_check_yaml(const char *text, size_t len, const char *name, bool allow_commented,
                      bool skip_user_named, FILE *f) {
    static doc_key_t keys[TP_DOC_MAX_KEYS];
    size_t           n_keys = tp_doc_keys(keys, sizeof keys / sizeof keys[0]);
    yaml_parser_t    parser;
    yaml_document_t  doc;
    lines_t          l = { .text = text, .len = len };
    int              r, missing = 0;

    l.line_at = malloc((len + 1) * sizeof l.line_at[0]);
    if (!l.line_at)
        return -ENOMEM;
    l.line_at[l.n_lines++] = 0;
    for (size_t i = 0; i < len; i++)
        if (text[i] == '\n' && i + 1 < len)
            l.line_at[l.n_lines++] = i + 1;

    if (!yaml_parser_initialize(&parser)) {
        free(l.line_at);
        return -ENOMEM;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc) || !yaml_document_get_root_node(&doc)) {
        fprintf(f, "%s:%zu: not a YAML document: %s\n", name, parser.problem_mark.line + 1,
                parser.problem ? parser.problem : "empty");
        yaml_parser_delete(&parser);
        free(l.line_at);
        return -EINVAL;
    }
    for (size_t i = 0; i < n_keys; i++) {
        /* The embedded defaults have no survey tool to show a source's keys on. */
        if (skip_user_named && keys[i].sub &&
            (!strncmp(keys[i].path, "feedback_sources.", 17) ||
             !strncmp(keys[i].path, "lua_rules[].", 12)))
            continue;
        r = s_check_key(&doc, &l, &keys[i], allow_commented);
        if (r < 0) {
            missing = r;
            break;
        }
        if (r > 0) {
            missing++;
            fprintf(f, "%s: key %s is not there%s; for example:  %s: %s   # %s\n", name,
                    keys[i].path, allow_commented ? " (neither set nor commented out)" : "",
                    keys[i].path, keys[i].key->def ? keys[i].key->def : "...", keys[i].key->desc);
        }
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    free(l.line_at);
    return missing;
}
