/* tp_config_doc_render — the key table as Markdown tables and as a man
 * page key list (see tp_config_doc.h). Output is deterministic: the same
 * table always renders to the same bytes, so a byte comparison detects drift.
 */
#include "tp_config_doc.h"

#include <inttypes.h>
#include <string.h>

size_t tp_doc_keys(doc_key_t *out, size_t max) {
    size_t n = 0;
    for (size_t i = 0; i < tp_config_n_keys && n < max; i++) {
        const tp_config_key_t *k = &tp_config_keys[i];
        out[n++] = (doc_key_t){ .key = k };
        snprintf(out[n - 1].path, sizeof out[n - 1].path, "%s", k->path);
        const tp_config_key_t *sub = NULL;
        size_t                 n_sub = 0;
        const char            *mid = NULL; /* between the parent and the row's name */
        if (k->type == TP_CONFIG_INPUTS)
            sub = tp_config_input_keys, n_sub = tp_config_n_input_keys, mid = "[].";
        else if (k->type == TP_CONFIG_LUA_RULES)
            sub = tp_config_lua_rule_keys, n_sub = tp_config_n_lua_rule_keys, mid = "[].";
        else if (k->type == TP_CONFIG_FEEDBACK_SOURCES)
            sub = tp_config_feedback_source_keys, n_sub = tp_config_n_feedback_source_keys,
            mid = ".<source>.";
        for (size_t j = 0; j < n_sub && n < max; j++) {
            out[n] = (doc_key_t){ .key = &sub[j], .sub = true };
            snprintf(out[n].path, sizeof out[n].path, "%s%s%s", k->path, mid, sub[j].path);
            n++;
        }
    }
    return n;
}

/* A duration in its largest exact unit, as the config file writes it. */
static void s_duration(char *buf, size_t len, int64_t ms) {
    static const struct {
        const char *unit;
        int64_t     ms;
    } units[] = {
        { "w", 7 * 86400000LL }, { "d", 86400000LL }, { "h", 3600000LL },
        { "m", 60000LL },        { "s", 1000LL },
    };
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (ms > 0 && ms % units[i].ms == 0) {
            snprintf(buf, len, "%" PRId64 "%s", ms / units[i].ms, units[i].unit);
            return;
        }
    snprintf(buf, len, "%" PRId64 "ms", ms);
}

/* What a value of this key looks like. `arrow` is how the output format
 * writes "maps to"; enum values are wrapped in `q0`..`q1` and split by `bar`. */
static void s_type(const tp_config_key_t *k, const char *arrow, const char *q0, const char *q1,
                   const char *bar, char *buf, size_t len) {
    char lo[32], hi[32];
    switch (k->type) {
    case TP_CONFIG_BOOL: snprintf(buf, len, "boolean"); return;
    case TP_CONFIG_UINT:
    case TP_CONFIG_INT: snprintf(buf, len, "integer %" PRId64 "..%" PRId64, k->min, k->max); return;
    case TP_CONFIG_DURATION:
        if (k->min == 1 && k->max == TP_CONFIG_DURATION_MAX_MS) {
            snprintf(buf, len, "duration");
            return;
        }
        s_duration(lo, sizeof lo, k->min);
        s_duration(hi, sizeof hi, k->max);
        snprintf(buf, len, "duration %s..%s", lo, hi);
        return;
    case TP_CONFIG_STRING: snprintf(buf, len, "string"); return;
    case TP_CONFIG_OPT_STRING: snprintf(buf, len, "string"); return;
    case TP_CONFIG_ENDPOINT: snprintf(buf, len, "endpoint"); return;
    case TP_CONFIG_Z85: snprintf(buf, len, "Z85 key"); return;
    case TP_CONFIG_LISTEN: snprintf(buf, len, "host:port"); return;
    case TP_CONFIG_FIELDSET: snprintf(buf, len, "field list"); return;
    case TP_CONFIG_INPUTS:
    case TP_CONFIG_LUA_RULES:
        snprintf(buf, len, "list of %" PRId64 "..%" PRId64 " maps", k->min, k->max);
        return;
    case TP_CONFIG_BY_CHANNEL: snprintf(buf, len, "map CHANNEL %s field list", arrow); return;
    case TP_CONFIG_BY_STEP: snprintf(buf, len, "map STEP_NAME %s duration", arrow); return;
    case TP_CONFIG_TARGETS: snprintf(buf, len, "map CONTRACT_TYPE %s duration", arrow); return;
    case TP_CONFIG_BY_MONTH:
        snprintf(buf, len, "map MONTH %s day %" PRId64 "..%" PRId64, arrow, k->min, k->max);
        return;
    case TP_CONFIG_FEEDBACK_SOURCES:
        snprintf(buf, len, "map SOURCE %s map, at most %" PRId64, arrow, k->max);
        return;
    case TP_CONFIG_TREE: snprintf(buf, len, "map"); return;
    case TP_CONFIG_SIZE:
        snprintf(buf, len, "size %" PRId64 "..%" PRId64 " bytes (KiB, MiB, GiB)", k->min, k->max);
        return;
    case TP_CONFIG_PARTITIONS:
        snprintf(buf, len, "list of integers %" PRId64 "..%" PRId64, k->min, k->max);
        return;
    case TP_CONFIG_ENUM: {
        size_t at = 0;
        buf[0] = '\0';
        for (size_t i = 0; k->names && k->names[i] && at < len; i++) {
            int w = snprintf(buf + at, len - at, "%s%s%s%s", i ? bar : "", q0, k->names[i], q1);
            at += w > 0 ? (size_t)w : 0;
        }
        return;
    }
    }
    snprintf(buf, len, "?");
}

/* Markdown: text outside code spans must not open HTML tags or split the
 * table's cells. */
static void s_md_text(FILE *f, const char *s) {
    for (; *s; s++) {
        switch (*s) {
        case '|': fputs("\\|", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        default: fputc(*s, f);
        }
    }
}

/* Markdown code span: only '|' needs escaping inside a table cell. */
static void s_md_code(FILE *f, const char *s) {
    fputc('`', f);
    for (; *s; s++)
        if (*s == '|')
            fputs("\\|", f);
        else
            fputc(*s, f);
    fputc('`', f);
}

/* The heading a key is listed under: its first path component, or
 * "top level" for a plain scalar at the root (clock, state_dir). */
static void s_group(const doc_key_t *d, char *buf, size_t len) {
    const char *dot = strchr(d->key->path, '.');
    bool        root = !d->sub && !dot && d->key->type != TP_CONFIG_INPUTS &&
                d->key->type != TP_CONFIG_LUA_RULES && d->key->type != TP_CONFIG_FEEDBACK_SOURCES;
    if (d->sub) {
        /* the parent's group: "inputs", "feedback_sources" */
        size_t n = strcspn(d->path, ".[");
        snprintf(buf, len, "%.*s", (int)n, d->path);
    } else if (root) {
        snprintf(buf, len, "top level");
    } else {
        size_t n = dot ? (size_t)(dot - d->key->path) : strlen(d->key->path);
        snprintf(buf, len, "%.*s", (int)n, d->key->path);
    }
}

void tp_doc_markdown(FILE *f) {
    static doc_key_t keys[TP_DOC_MAX_KEYS];
    size_t           n = tp_doc_keys(keys, sizeof keys / sizeof keys[0]);
    char             group[64] = "", g[64], type[256];

    fputs(TP_DOC_MD_BEGIN " from daemon/config/tp_config_keys.c; do not edit by hand:"
                          " cmake --build build --target config-docs -->\n",
          f);
    for (size_t i = 0; i < n; i++) {
        const doc_key_t *d = &keys[i];
        s_group(d, g, sizeof g);
        if (strcmp(g, group)) {
            snprintf(group, sizeof group, "%s", g);
            if (!strcmp(g, "top level"))
                fputs("\n### Top-level keys\n\n", f);
            else
                fprintf(f, "\n### `%s`\n\n", g);
            fputs("| Key | Type | Default | Meaning |\n|---|---|---|---|\n", f);
        }
        s_type(d->key, "→", "`", "`", " \\| ", type, sizeof type);
        fputs("| ", f);
        s_md_code(f, d->path);
        fprintf(f, " | %s | ", type);
        if (d->key->def)
            s_md_code(f, d->key->def);
        else
            fputs("required", f);
        fputs(" | ", f);
        s_md_text(f, d->key->desc);
        fputs(" |\n", f);
    }
    fputs("\n" TP_DOC_MD_END "\n", f);
}

/* roff: a backslash is an escape, '-' a hyphen (\- is the minus a reader
 * can copy), and a line must not start with '.' or '\''. */
static void s_roff(FILE *f, const char *s) {
    for (; *s; s++) {
        if (*s == '\\')
            fputs("\\e", f);
        else if (*s == '-')
            fputs("\\-", f);
        else
            fputc(*s, f);
    }
}

void tp_doc_man(FILE *f) {
    static doc_key_t keys[TP_DOC_MAX_KEYS];
    size_t           n = tp_doc_keys(keys, sizeof keys / sizeof keys[0]);
    char             type[256];

    fputs(TP_DOC_MAN_BEGIN " from daemon/config/tp_config_keys.c; do not edit by hand:\n"
                           ".\\\" cmake --build build --target config-docs\n",
          f);
    for (size_t i = 0; i < n; i++) {
        const doc_key_t *d = &keys[i];
        s_type(d->key, "\\(->", "\\fB", "\\fR", " | ", type, sizeof type);
        fputs(".TP\n\\fB", f);
        s_roff(f, d->path);
        fputs("\\fR (", f);
        /* type strings hold no '-' or '\\' beyond the escapes written above */
        fputs(type, f);
        if (d->key->def) {
            fputs(", default \\fB", f);
            s_roff(f, d->key->def);
            fputs("\\fR", f);
        } else {
            fputs(", required", f);
        }
        fputs(")\n", f);
        const char *desc = d->key->desc;
        s_roff(f, desc);
        size_t l = strlen(desc);
        fputs(l && desc[l - 1] == '.' ? "\n" : ".\n", f);
    }
    fputs(TP_DOC_MAN_END "\n", f);
}
