/* tp_map — loading a mapping file; see tp_map.h (rows: tp_map_apply.c).
 *
 * The file is walked with libyaml's document API, whose node marks give the
 * line numbers errors report. Like touchpointd's config it is accepted whole
 * or refused with one "FILE:LINE: reason": unknown keys, unknown contract
 * fields and `values` or `default`s the contract would refuse are found
 * here, before the first row is read, instead of once per row.
 */
#include "tp_errline.h"
#include "tp_map_internal.h"
#include "tp_json.h"
#include "tp_timefmt.h"
#include "touchpoint/v1/events.pb-c.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#define TP_MAP_MAX_FILE (1024 * 1024)

struct load {
    const char      *path;
    yaml_document_t *doc;
    tp_map_t        *m;
    char            *err;
    size_t           errlen;
};

/* Fields the daemon refuses an event without (docs/contract.md):
 * a mapping must fill them, and a row that leaves one empty is bad. */
static const struct {
    const char *payload;
    const char *fields[6];
} s_required[] = {
    { "call", { "call_id", "hcp_id", "rep_id", "status", "call_at_ms", NULL } },
    { "contracting", { "contract_id", "step", "state", "at_ms", NULL } },
    { "feedback", { "feedback_id", "hcp_id", "at_ms", NULL } },
};

__attribute__((format(printf, 3, 4))) static int s_fail(struct load *l, const yaml_node_t *n,
                                                        const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    tp_errline_vformat(l->err, l->errlen, l->path, n ? (long)n->start_mark.line + 1 : -1, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

static const char *s_scalar(const yaml_node_t *n) {
    return n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* The text of scalar `n`, refusing lists, mappings and NUL bytes. */
static int s_text(struct load *l, const char *what, const yaml_node_t *n, const char **ret) {
    if (n->type != YAML_SCALAR_NODE || strlen(s_scalar(n)) != n->data.scalar.length)
        return s_fail(l, n, "%s: expected a text value", what);
    *ret = s_scalar(n);
    return 0;
}

/* The index of column `name`, added if new. */
static int s_column(struct load *l, const yaml_node_t *n, const char *name) {
    tp_map_t *m = l->m;
    if (!*name)
        return s_fail(l, n, "empty column name");
    for (size_t i = 0; i < m->n_cols; i++)
        if (!strcmp(m->cols[i], name))
            return (int)i;
    if (m->n_cols == TP_MAP_MAX_COLUMNS)
        return s_fail(l, n, "more than %d columns", TP_MAP_MAX_COLUMNS);
    char **cols = realloc(m->cols, (m->n_cols + 1) * sizeof *cols);
    if (!cols)
        return -ENOMEM;
    m->cols = cols;
    if (!(cols[m->n_cols] = strdup(name)))
        return -ENOMEM;
    return (int)m->n_cols++;
}

/* "{Id}:{LastModifiedDate}" or a constant such as "veeva-eu". */
static int s_template(struct load *l, const char *key, const yaml_node_t *n,
                      struct tp_map_tmpl *t) {
    const char *s = NULL;
    int         r = s_text(l, key, n, &s);
    if (r < 0)
        return r;
    if (!*s)
        return s_fail(l, n, "%s: empty", key);
    t->key = key;
    while (*s) {
        const char *open = strchr(s, '{'), *close = open ? strchr(open, '}') : NULL;
        if (open && !close)
            return s_fail(l, n, "%s: \"{\" without \"}\"", key);
        size_t lit = open ? (size_t)(open - s) : strlen(s);
        for (int pass = 0; pass < 2; pass++) {
            if (pass == 0 && lit == 0)
                continue;
            if (pass == 1 && !open)
                break;
            struct tp_map_part *parts = realloc(t->parts, (t->n + 1) * sizeof *parts);
            if (!parts)
                return -ENOMEM;
            t->parts = parts;
            struct tp_map_part *p = &parts[t->n++];
            *p = (struct tp_map_part){ .col = -1 };
            if (pass == 0) {
                if (!(p->text = strndup(s, lit)))
                    return -ENOMEM;
                continue;
            }
            char *name = strndup(open + 1, (size_t)(close - open - 1));
            if (!name)
                return -ENOMEM;
            r = s_column(l, n, name);
            free(name);
            if (r < 0)
                return r;
            p->col = r;
        }
        s = open ? close + 1 : s + lit;
    }
    return 0;
}

/* Checks a contract-side value (a `values` target or a default) the way a
 * row would be checked: converted, then parsed by tp_json. */
static int s_check_value(struct load *l, const struct tp_map_spec *s, const yaml_node_t *n,
                         const char *text) {
    char    why[512];
    json_t *v = NULL, *obj = NULL;
    int     r = tp_map_convert(s, text, true, why, sizeof why, &v);
    if (r == -EINVAL)
        return s_fail(l, n, "%s: %s", s->name, why);
    if (r < 0 || !v)
        return r;
    if (!s->fd) {
        json_decref(v);
        return 0;
    }
    obj = json_object();
    if (!obj || json_object_set_new(obj, s->fd->name, v) < 0) {
        json_decref(obj);
        return -ENOMEM;
    }
    ProtobufCMessage *msg = NULL;
    r = tp_json_to_message(obj, l->m->payload->descriptor, why, sizeof why, &msg);
    json_decref(obj);
    if (msg)
        protobuf_c_message_free_unpacked(msg, NULL);
    if (r == -EINVAL)
        return s_fail(l, n, "%s: value \"%.64s\" refused by the contract: %s", s->name, text, why);
    return r;
}

static bool s_is_time_field(const ProtobufCFieldDescriptor *fd) {
    size_t n = strlen(fd->name);
    return !strcmp(fd->name, "at_ms") || (n > 6 && !strcmp(fd->name + n - 6, "_at_ms"));
}

/* One field spec: a column name, or a mapping of options. */
static int s_spec(struct load *l, const yaml_node_t *n, struct tp_map_spec *s) {
    static const char *const keys = "column, values, split, time, timezone, default, required";
    const char              *t = NULL;
    int                      r;
    s->col = -1;
    if (s->fd == NULL || s_is_time_field(s->fd))
        s->time = strdup("iso8601");
    if ((s->fd == NULL || s_is_time_field(s->fd)) && !s->time)
        return -ENOMEM;
    if (n->type == YAML_SCALAR_NODE) {
        if ((r = s_text(l, s->name, n, &t)) < 0 || (r = s_column(l, n, t)) < 0)
            return r;
        s->col = r;
        return 0;
    }
    if (n->type != YAML_MAPPING_NODE)
        return s_fail(l, n, "%s: expected a column name or a mapping of %s", s->name, keys);
    const yaml_node_t *values = NULL, *deflt = NULL;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(l->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(l->doc, p->value);
        const char  *key = s_scalar(k);
        if (!key)
            return s_fail(l, k, "%s: keys are text", s->name);
        if (!strcmp(key, "values")) {
            values = v;
            continue;
        }
        if (strcmp(key, "required") && (r = s_text(l, key, v, &t)) < 0)
            return r;
        if (!strcmp(key, "column")) {
            if ((r = s_column(l, v, t)) < 0)
                return r;
            s->col = r;
        } else if (!strcmp(key, "split")) {
            if (!s->fd || s->fd->label != PROTOBUF_C_LABEL_REPEATED || !*t)
                return s_fail(l, k, "%s: split is for list fields, with a non-empty separator",
                              s->name);
            if (!(s->split = strdup(t)))
                return -ENOMEM;
        } else if (!strcmp(key, "time")) {
            if (!s->time)
                return s_fail(l, k, "%s: not a time field (those are at_ms and *_at_ms)", s->name);
            if (tp_timefmt_check(t) < 0)
                return s_fail(l, v,
                              "%s: time \"%.64s\": expected iso8601, unix_ms, unix_s or "
                              "a strptime pattern such as \"%%m/%%d/%%Y %%H:%%M\"",
                              s->name, t);
            free(s->time);
            if (!(s->time = strdup(t)))
                return -ENOMEM;
        } else if (!strcmp(key, "timezone")) {
            if (!s->time || tp_timefmt_parse_offset(t, &s->tz) < 0)
                return s_fail(l, v,
                              "%s: timezone \"%.64s\": expected UTC or an offset such "
                              "as +01:00, on a time field",
                              s->name, t);
        } else if (!strcmp(key, "default")) {
            deflt = v;
            if (!(s->def = strdup(t)))
                return -ENOMEM;
        } else if (!strcmp(key, "required")) {
            const char *b = s_scalar(v);
            if (!b || (strcmp(b, "true") && strcmp(b, "false")))
                return s_fail(l, v, "%s: required: expected true or false", s->name);
            s->required = s->required || !strcmp(b, "true");
        } else {
            return s_fail(l, k, "%s: unknown key \"%.64s\" (expected %s)", s->name, key, keys);
        }
    }
    if (s->col < 0 && !s->def)
        return s_fail(l, n, "%s: needs a column or a default", s->name);
    if (values) {
        if (values->type != YAML_MAPPING_NODE ||
            values->data.mapping.pairs.start == values->data.mapping.pairs.top)
            return s_fail(l, values,
                          "%s: values: expected a mapping of source value: contract "
                          "value",
                          s->name);
        for (yaml_node_pair_t *p = values->data.mapping.pairs.start;
             p < values->data.mapping.pairs.top; p++) {
            const char  *from = NULL, *to = NULL;
            yaml_node_t *k = yaml_document_get_node(l->doc, p->key);
            yaml_node_t *v = yaml_document_get_node(l->doc, p->value);
            if ((r = s_text(l, "values", k, &from)) < 0 || (r = s_text(l, "values", v, &to)) < 0)
                return r;
            struct tp_map_pair *pairs = realloc(s->values, (s->n_values + 1) * sizeof *pairs);
            if (!pairs)
                return -ENOMEM;
            s->values = pairs;
            pairs[s->n_values] = (struct tp_map_pair){ strdup(from), strdup(to) };
            if (!pairs[s->n_values].from || !pairs[s->n_values++].to)
                return -ENOMEM;
            if (*to && (r = s_check_value(l, s, v, to)) < 0)
                return r;
        }
    }
    return deflt ? s_check_value(l, s, deflt, s->def) : 0;
}

static int s_fields(struct load *l, const yaml_node_t *key, const yaml_node_t *n) {
    tp_map_t                         *m = l->m;
    const ProtobufCMessageDescriptor *pd = m->payload->descriptor;
    if (n->type != YAML_MAPPING_NODE)
        return s_fail(l, n, "fields: expected a mapping of contract field: column");
    size_t count = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    if (!(m->fields = calloc(count ? count : 1, sizeof *m->fields)))
        return -ENOMEM;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t                    *k = yaml_document_get_node(l->doc, p->key);
        const char                     *name = s_scalar(k);
        const ProtobufCFieldDescriptor *fd = NULL;
        /* The proto name (call_at_ms) or its JSON name (callAtMs). */
        for (unsigned i = 0; name && i < pd->n_fields && !fd; i++) {
            const char *a = pd->fields[i].name, *b = name;
            for (; *a && *b; a++, b++)
                if (*a == '_' && a[1] && *b == a[1] - 'a' + 'A')
                    a++;
                else if (*a != *b)
                    break;
            if (!*a && !*b)
                fd = &pd->fields[i];
        }
        if (!fd) {
            char   list[512];
            size_t at = 0;
            for (unsigned i = 0; i < pd->n_fields && at < sizeof list; i++)
                at += (size_t)snprintf(list + at, sizeof list - at, "%s%s", i ? ", " : "",
                                       pd->fields[i].name);
            return s_fail(l, k, "fields: unknown %s field \"%.64s\" (expected one of %s)",
                          m->payload->name, name ? name : "?", list);
        }
        for (size_t i = 0; i < m->n_fields; i++)
            if (m->fields[i].fd == fd)
                return s_fail(l, k, "fields: %s mapped twice", fd->name);
        struct tp_map_spec *s = &m->fields[m->n_fields++];
        s->fd = fd;
        if (!(s->name = strdup(name)))
            return -ENOMEM;
        int r = s_spec(l, yaml_document_get_node(l->doc, p->value), s);
        if (r < 0)
            return r;
    }
    for (size_t i = 0; i < sizeof s_required / sizeof s_required[0]; i++) {
        if (strcmp(s_required[i].payload, m->payload->name))
            continue;
        for (const char *const *f = s_required[i].fields; *f; f++) {
            struct tp_map_spec *s = NULL;
            for (size_t j = 0; j < m->n_fields && !s; j++)
                if (!strcmp(m->fields[j].fd->name, *f))
                    s = &m->fields[j];
            if (!s)
                return s_fail(l, key, "fields: %s.%s is required by the contract and not mapped",
                              m->payload->name, *f);
            s->required = true;
        }
    }
    return 0;
}

static int s_root(struct load *l, yaml_node_t *root) {
    static const char *const keys =
        "format, delimiter, payload, source, event_id, occurred_at, fields";
    tp_map_t    *m = l->m;
    yaml_node_t *fields = NULL, *fields_key = NULL, *occurred = NULL, *source = NULL;
    yaml_node_t *event_id = NULL;
    if (!root || root->type != YAML_MAPPING_NODE)
        return s_fail(l, root, "expected a mapping of %s", keys);
    m->delim = ',';
    bool have_format = false;
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node(l->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(l->doc, p->value);
        const char  *key = s_scalar(k), *t = NULL;
        int          r;
        if (!key)
            return s_fail(l, k, "keys are text");
        for (yaml_node_pair_t *q = root->data.mapping.pairs.start; q < p; q++) {
            const char *qk = s_scalar(yaml_document_get_node(l->doc, q->key));
            if (qk && !strcmp(qk, key))
                return s_fail(l, k, "duplicate key \"%.64s\"", key);
        }
        if (!strcmp(key, "fields")) {
            fields = v;
            fields_key = k;
        } else if (!strcmp(key, "occurred_at"))
            occurred = v;
        else if (!strcmp(key, "source"))
            source = v;
        else if (!strcmp(key, "event_id"))
            event_id = v;
        else if (!strcmp(key, "format")) {
            if ((r = s_text(l, key, v, &t)) < 0)
                return r;
            if (strcmp(t, "csv") && strcmp(t, "jsonl"))
                return s_fail(l, v, "format: \"%.64s\": expected csv or jsonl", t);
            m->format = strcmp(t, "csv") ? TP_MAP_JSONL : TP_MAP_CSV;
            have_format = true;
        } else if (!strcmp(key, "delimiter")) {
            if ((r = s_text(l, key, v, &t)) < 0)
                return r;
            if (!strcmp(t, "\\t"))
                t = "\t";
            if (strlen(t) != 1 || *t == '"' || *t == '\n' || *t == '\r')
                return s_fail(l, v, "delimiter: expected one character (\"\\t\" for tab)");
            m->delim = *t;
        } else if (!strcmp(key, "payload")) {
            if ((r = s_text(l, key, v, &t)) < 0)
                return r;
            if (strcmp(t, "call") && strcmp(t, "contracting") && strcmp(t, "feedback"))
                return s_fail(l, v, "payload: \"%.64s\": expected call, contracting or feedback",
                              t);
            m->payload = protobuf_c_message_descriptor_get_field_by_name(
                &touchpoint__v1__envelope__descriptor, t);
        } else {
            return s_fail(l, k, "unknown key \"%.64s\" (expected %s)", key, keys);
        }
    }
    const char *missing = !have_format  ? "format"
                          : !m->payload ? "payload"
                          : !source     ? "source"
                          : !event_id   ? "event_id"
                          : !occurred   ? "occurred_at"
                          : !fields     ? "fields"
                                        : NULL;
    if (missing)
        return s_fail(l, root, "%s is missing", missing);
    int r;
    m->occurred.name = strdup("occurred_at");
    if (!m->occurred.name)
        return -ENOMEM;
    m->occurred.required = true;
    if ((r = s_template(l, "source", source, &m->source)) < 0 ||
        (r = s_template(l, "event_id", event_id, &m->event_id)) < 0 ||
        (r = s_spec(l, occurred, &m->occurred)) < 0)
        return r;
    return s_fields(l, fields_key, fields);
}

static void s_spec_free(struct tp_map_spec *s) {
    for (size_t i = 0; i < s->n_values; i++) {
        free(s->values[i].from);
        free(s->values[i].to);
    }
    free(s->values);
    free(s->name);
    free(s->split);
    free(s->time);
    free(s->def);
}

static void s_tmpl_free(struct tp_map_tmpl *t) {
    for (size_t i = 0; i < t->n; i++)
        free(t->parts[i].text);
    free(t->parts);
}

void tp_map_destroy(tp_map_t **p) {
    tp_map_t *m = p ? *p : NULL;
    if (!m)
        return;
    s_tmpl_free(&m->source);
    s_tmpl_free(&m->event_id);
    s_spec_free(&m->occurred);
    for (size_t i = 0; i < m->n_fields; i++)
        s_spec_free(&m->fields[i]);
    free(m->fields);
    for (size_t i = 0; i < m->n_cols; i++)
        free(m->cols[i]);
    free(m->cols);
    free(m);
    *p = NULL;
}

int tp_map_new_from_file(const char *path, char *err, size_t errlen, tp_map_t **ret) {
    struct load     l = { .path = path, .err = err, .errlen = errlen };
    yaml_parser_t   parser;
    yaml_document_t doc;
    bool            parser_on = false, doc_on = false;
    int             r = 0;
    FILE           *f = fopen(path, "re");
    if (!f) {
        r = -errno;
        snprintf(err, errlen, "%s: %s", path, strerror(-r));
        return r;
    }
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && st.st_size > TP_MAP_MAX_FILE) {
        r = -EFBIG;
        snprintf(err, errlen, "%s: larger than %d bytes", path, TP_MAP_MAX_FILE);
        goto out;
    }
    if (!(l.m = calloc(1, sizeof *l.m))) {
        r = -ENOMEM;
        goto out;
    }
    if (!yaml_parser_initialize(&parser)) {
        r = -ENOMEM;
        goto out;
    }
    parser_on = true;
    yaml_parser_set_input_file(&parser, f);
    if (!yaml_parser_load(&parser, &doc)) {
        r = -EINVAL;
        snprintf(err, errlen, "%s:%zu: %s", path, (size_t)parser.problem_mark.line + 1,
                 parser.problem ? parser.problem : "YAML syntax error");
        goto out;
    }
    doc_on = true;
    l.doc = &doc;
    r = s_root(&l, yaml_document_get_root_node(&doc));
out:
    if (doc_on)
        yaml_document_delete(&doc);
    if (parser_on)
        yaml_parser_delete(&parser);
    fclose(f);
    if (r < 0) {
        if (r == -ENOMEM)
            snprintf(err, errlen, "%s: out of memory", path);
        tp_map_destroy(&l.m);
        return r;
    }
    *ret = l.m;
    return 0;
}
