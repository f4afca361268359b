/* tp_map_apply — one row through a mapping; see tp_map.h.
 *
 * A row becomes the proto3 JSON form of an Envelope, which
 * tp_json_to_message() turns into the message: the same code, and so the
 * same checks (enum names, integer ranges, UTF-8), as tp-pub's JSON lines.
 * What JSON cannot know (which column a bad value came from) is checked here
 * first, so errors name the column as the export calls it.
 */
#include "tp_errline.h"
#include "tp_map_internal.h"
#include "tp_json.h"
#include "tp_timefmt.h"
#include "touchpoint/v1/events.pb-c.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

tp_map_format_t tp_map_format(const tp_map_t *m) {
    return m->format;
}
char tp_map_delimiter(const tp_map_t *m) {
    return m->delim;
}
size_t tp_map_n_columns(const tp_map_t *m) {
    return m->n_cols;
}
const char *tp_map_column(const tp_map_t *m, size_t i) {
    return i < m->n_cols ? m->cols[i] : NULL;
}

/* Cells come from the export: the reason stays on one line. */
__attribute__((format(printf, 3, 4))) static int s_fail(char *err, size_t errlen, const char *fmt,
                                                        ...) {
    va_list ap;
    va_start(ap, fmt);
    tp_errline_vformat(err, errlen, NULL, -1, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

/* "Planned_vod, Saved_vod, ..." into buf, cut short with "..." if long. */
static void s_expected(const struct tp_map_spec *s, char *buf, size_t size) {
    size_t at = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < s->n_values && at < size; i++) {
        int n = snprintf(buf + at, size - at, "%s%s", i ? ", " : "", s->values[i].from);
        if (n < 0 || (size_t)n >= size - at) {
            snprintf(buf + (at < size - 4 ? at : size - 4), 4, "...");
            return;
        }
        at += (size_t)n;
    }
}

static bool s_is_int(const char *s) {
    s += *s == '-';
    if (!*s)
        return false;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return false;
    return true;
}

/* A list cell "Product A; Product B" -> ["Product A", "Product B"]: items
 * trimmed, empty ones dropped. */
static int s_split(const char *text, const char *sep, json_t **ret) {
    json_t *arr = json_array();
    size_t  seplen = strlen(sep);
    if (!arr)
        return -ENOMEM;
    for (const char *p = text;;) {
        const char *end = strstr(p, sep);
        const char *stop = end ? end : p + strlen(p);
        const char *a = p, *b = stop;
        while (a < b && isspace((unsigned char)*a))
            a++;
        while (b > a && isspace((unsigned char)b[-1]))
            b--;
        if (b > a) {
            json_t *item = json_stringn(a, (size_t)(b - a));
            if (!item || json_array_append_new(arr, item) < 0) {
                json_decref(arr);
                return item ? -ENOMEM : -EILSEQ;
            }
        }
        if (!end)
            break;
        p = end + seplen;
    }
    *ret = arr;
    return 0;
}

int tp_map_convert(const struct tp_map_spec *s, const char *text, bool is_default, char *err,
                   size_t errlen, json_t **ret) {
    const ProtobufCFieldDescriptor *fd = s->fd;
    json_t                         *v = NULL;
    if (s->values && !is_default) {
        const char *to = NULL;
        for (size_t i = 0; i < s->n_values && !to; i++)
            if (!strcmp(s->values[i].from, text))
                to = s->values[i].to;
        if (!to) {
            char exp[400];
            s_expected(s, exp, sizeof exp);
            return s_fail(err, errlen, "unknown value \"%.64s\" (expected one of %s)", text, exp);
        }
        text = to;
        if (!*text) { /* mapped to "": the field is left unset */
            *ret = NULL;
            return 0;
        }
    }
    if (s->time) {
        int64_t ms;
        if (tp_timefmt_parse(text, s->time, s->tz, &ms) < 0)
            return s_fail(err, errlen, "bad time \"%.64s\" for %s (expected %s)", text, s->name,
                          s->time);
        v = fd && fd->type == PROTOBUF_C_TYPE_INT32 ? json_integer(ms)
                                                    : json_sprintf("%" PRId64, ms);
    } else if (fd && fd->label == PROTOBUF_C_LABEL_REPEATED) {
        int r = s->split ? s_split(text, s->split, &v) : (v = json_pack("[s]", text)) ? 0 : -EILSEQ;
        if (r == -ENOMEM)
            return r;
        if (r < 0)
            return s_fail(err, errlen, "not valid UTF-8");
    } else if (fd && fd->type == PROTOBUF_C_TYPE_BOOL) {
        if (strcmp(text, "true") && strcmp(text, "false"))
            return s_fail(err, errlen, "\"%.64s\" is not true or false (map it with values:)",
                          text);
        v = json_boolean(!strcmp(text, "true"));
    } else if (fd && fd->type != PROTOBUF_C_TYPE_STRING && fd->type != PROTOBUF_C_TYPE_ENUM) {
        /* Integers; their range is tp_json's to check. */
        if (!s_is_int(text))
            return s_fail(err, errlen, "\"%.64s\" is not a whole number", text);
        v = json_string(text);
    } else {
        v = json_string(text);
        if (!v)
            return s_fail(err, errlen, "not valid UTF-8");
    }
    if (!v)
        return -ENOMEM;
    *ret = v;
    return 0;
}

/* Cell text or NULL when empty/absent. */
static const char *s_cell(const char *const *vals, int col) {
    if (col < 0 || !vals[col] || !*vals[col])
        return NULL;
    return vals[col];
}

/* The value of spec `s` for the row, with the column (or field) in errors.
 * *ret NULL: leave the field unset. */
static int s_value(const struct tp_map_spec *s, const char *const *vals, char *err, size_t errlen,
                   json_t **ret) {
    const char *text = s_cell(vals, s->col);
    bool        is_default = !text;
    char        why[512];
    *ret = NULL;
    if (!text)
        text = s->def;
    if (!text) {
        if (!s->required)
            return 0;
        if (s->col >= 0)
            return s_fail(err, errlen, "empty, but %s is required", s->name);
        return s_fail(err, errlen, "no value");
    }
    int r = tp_map_convert(s, text, is_default, why, sizeof why, ret);
    if (r == -EINVAL)
        return s_fail(err, errlen, "%s", why);
    return r;
}

static int s_render(const tp_map_t *m, const struct tp_map_tmpl *t, const char *const *vals,
                    char *err, size_t errlen, json_t **ret) {
    size_t len = 0;
    for (size_t i = 0; i < t->n; i++) {
        const char *p = t->parts[i].text ? t->parts[i].text : s_cell(vals, t->parts[i].col);
        if (!p)
            return s_fail(err, errlen, "column %s: empty, but %s is made from it",
                          m->cols[t->parts[i].col], t->key);
        len += strlen(p);
    }
    char *buf = malloc(len + 1);
    if (!buf)
        return -ENOMEM;
    buf[0] = '\0';
    for (size_t i = 0, at = 0; i < t->n; i++) {
        const char *p = t->parts[i].text ? t->parts[i].text : vals[t->parts[i].col];
        size_t      n = strlen(p);
        memcpy(buf + at, p, n + 1);
        at += n;
    }
    *ret = json_string(buf);
    free(buf);
    if (!*ret)
        return s_fail(err, errlen, "%s: not valid UTF-8", t->key);
    return 0;
}

/* Prefix of err naming where a failed spec reads from. */
static int s_where(const tp_map_t *m, const struct tp_map_spec *s, const char *why, char *err,
                   size_t errlen) {
    if (s->col >= 0)
        return s_fail(err, errlen, "column %s: %s", m->cols[s->col], why);
    return s_fail(err, errlen, "field %s: %s", s->name, why);
}

/* tp_json's reason starts with the field path ("call.channel: ..."): put
 * the column in front when one spec fills that field. */
static int s_json_fail(const tp_map_t *m, const char *why, char *err, size_t errlen) {
    const char *pname = m->payload->name;
    size_t      plen = strlen(pname);
    if (!strncmp(why, pname, plen) && why[plen] == '.')
        for (size_t i = 0; i < m->n_fields; i++) {
            const struct tp_map_spec *s = &m->fields[i];
            size_t                    n = strlen(s->fd->name);
            const char               *rest = why + plen + 1;
            if (s->col >= 0 && !strncmp(rest, s->fd->name, n) && (rest[n] == ':' || rest[n] == '['))
                return s_fail(err, errlen, "column %s: %s", m->cols[s->col], why);
        }
    return s_fail(err, errlen, "%s", why);
}

int tp_map_apply_row(const tp_map_t *m, const char *const *vals, char *err, size_t errlen,
                     ProtobufCMessage **ret_env) {
    json_t *env = json_object(), *payload = json_object(), *v = NULL;
    char    why[512] = "";
    int     r = env && payload ? 0 : -ENOMEM;
    if (r == 0 && (r = s_render(m, &m->event_id, vals, err, errlen, &v)) == 0)
        r = json_object_set_new(env, "event_id", v) < 0 ? -ENOMEM : 0;
    if (r == 0 && (r = s_render(m, &m->source, vals, err, errlen, &v)) == 0)
        r = json_object_set_new(env, "source", v) < 0 ? -ENOMEM : 0;
    if (r == 0) {
        r = s_value(&m->occurred, vals, why, sizeof why, &v);
        if (r == -EINVAL)
            s_where(m, &m->occurred, why, err, errlen);
        else if (r == 0 && v)
            r = json_object_set_new(env, "occurred_at_ms", v) < 0 ? -ENOMEM : 0;
    }
    for (size_t i = 0; r == 0 && i < m->n_fields; i++) {
        const struct tp_map_spec *s = &m->fields[i];
        r = s_value(s, vals, why, sizeof why, &v);
        if (r == -EINVAL)
            s_where(m, s, why, err, errlen);
        else if (r == 0 && v)
            r = json_object_set_new(payload, s->fd->name, v) < 0 ? -ENOMEM : 0;
    }
    if (r == 0) {
        r = json_object_set(env, m->payload->name, payload) < 0 ? -ENOMEM : 0;
    }
    if (r == 0) {
        r = tp_json_to_message(env, &touchpoint__v1__envelope__descriptor, why, sizeof why,
                               ret_env);
        if (r == -EINVAL)
            s_json_fail(m, why, err, errlen);
    }
    json_decref(payload);
    json_decref(env);
    return r;
}
