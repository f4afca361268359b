/* tp_input — see tp_input.h. */
#include "tp_input.h"
#include "tp_csv.h"
#include "tp_json.h"
#include "touchpoint/v1/events.pb-c.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <jansson.h>

#define TP_INPUT_MAX_CELLS 4096

struct tp_input {
    FILE           *in;
    const tp_map_t *map; /* NULL: plain JSON-line Envelopes */
    size_t          max_bytes;
    char           *line; /* getline() buffer (JSON lines) */
    size_t          line_cap, lineno;
    tp_csv_t       *csv;      /* mapped CSV */
    size_t         *colmap;   /* mapping column i -> CSV cell index */
    size_t          n_header; /* cells in the header, 0 before it is read */
    const char    **vals;     /* one row's text per mapping column */
    char (*num)[32];          /* JSON numbers of a row, as text */
};

int tp_input_new(FILE *in, const tp_map_t *map, size_t max_bytes, tp_input_t **ret) {
    tp_input_t *t = calloc(1, sizeof *t);
    if (!t)
        return -ENOMEM;
    *t = (tp_input_t){ .in = in, .map = map, .max_bytes = max_bytes };
    size_t n = map ? tp_map_n_columns(map) : 0;
    if (map &&
        (!(t->vals = calloc(n + 1, sizeof *t->vals)) ||
         !(t->colmap = calloc(n + 1, sizeof *t->colmap)) ||
         !(t->num = calloc(n + 1, sizeof *t->num)) ||
         (tp_map_format(map) == TP_MAP_CSV &&
          tp_csv_new(in, tp_map_delimiter(map), max_bytes, TP_INPUT_MAX_CELLS, &t->csv) < 0))) {
        tp_input_destroy(&t);
        return -ENOMEM;
    }
    *ret = t;
    return 0;
}

void tp_input_destroy(tp_input_t **p) {
    tp_input_t *t = p ? *p : NULL;
    if (!t)
        return;
    tp_csv_destroy(&t->csv);
    free(t->line);
    free(t->vals);
    free(t->colmap);
    free(t->num);
    free(t);
    *p = NULL;
}

bool tp_input_blank_line(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
            return false;
    return true;
}

/* The next non-blank line into t->line: its length, 0 at the end, or a
 * negative errno. */
static ssize_t s_getline(tp_input_t *t) {
    for (;;) {
        errno = 0;
        ssize_t len = getline(&t->line, &t->line_cap, t->in);
        if (len < 0)
            return ferror(t->in) ? (errno ? -errno : -EIO) : 0;
        t->lineno++;
        if (!tp_input_blank_line(t->line, (size_t)len))
            return len;
    }
}

/* The values of the mapping's columns in one JSON object. */
static int s_json_row(tp_input_t *t, const json_t *obj, char *err, size_t errlen) {
    for (size_t i = 0; i < tp_map_n_columns(t->map); i++) {
        const char   *name = tp_map_column(t->map, i);
        const json_t *v = json_object_get(obj, name);
        t->vals[i] = NULL;
        if (!v || json_is_null(v))
            continue;
        if (json_is_string(v))
            t->vals[i] = json_string_value(v);
        else if (json_is_integer(v))
            snprintf(t->num[i], sizeof t->num[i], "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        else if (json_is_real(v))
            snprintf(t->num[i], sizeof t->num[i], "%.17g", json_real_value(v));
        else if (json_is_boolean(v))
            snprintf(t->num[i], sizeof t->num[i], "%s", json_is_true(v) ? "true" : "false");
        else {
            snprintf(err, errlen, "column %s: expected a string, number or boolean", name);
            return -EINVAL;
        }
        if (!t->vals[i])
            t->vals[i] = t->num[i];
    }
    return 0;
}

static int s_next_line(tp_input_t *t, ProtobufCMessage **ret_env, size_t *ret_line, char *err,
                       size_t errlen) {
    ssize_t len = s_getline(t);
    if (len <= 0)
        return (int)len;
    *ret_line = t->lineno;
    if ((size_t)len > t->max_bytes) {
        snprintf(err, errlen, "line longer than %zu bytes", t->max_bytes);
        return -EINVAL;
    }
    int r;
    if (!t->map) {
        r = tp_json_parse_message(t->line, (size_t)len, &touchpoint__v1__envelope__descriptor, err,
                                  errlen, ret_env);
        return r < 0 ? r : 1;
    }
    json_error_t jerr;
    json_t      *obj = json_loadb(t->line, (size_t)len, JSON_REJECT_DUPLICATES, &jerr);
    if (!obj || !json_is_object(obj)) {
        snprintf(err, errlen, obj ? "expected a JSON object" : "invalid JSON at column %d: %s",
                 jerr.column, jerr.text);
        r = -EINVAL;
    } else {
        r = s_json_row(t, obj, err, errlen);
        if (r == 0)
            r = tp_map_apply_row(t->map, t->vals, err, errlen, ret_env);
    }
    json_decref(obj);
    return r < 0 ? r : 1;
}

/* The header: where each of the mapping's columns is. */
static int s_header(tp_input_t *t, char **cells, size_t n, size_t line, char *err, size_t errlen) {
    for (size_t i = 0; i < tp_map_n_columns(t->map); i++) {
        const char *name = tp_map_column(t->map, i);
        size_t      at = n;
        for (size_t j = 0; j < n; j++) {
            if (strcmp(cells[j], name))
                continue;
            if (at < n) {
                snprintf(err, errlen, "header (line %zu): column %s appears twice", line, name);
                return -EBADMSG;
            }
            at = j;
        }
        if (at == n) {
            snprintf(err, errlen, "header (line %zu) has no column %s, which the mapping reads",
                     line, name);
            return -EBADMSG;
        }
        t->colmap[i] = at;
    }
    t->n_header = n;
    return 0;
}

static int s_next_csv(tp_input_t *t, ProtobufCMessage **ret_env, size_t *ret_line, char *err,
                      size_t errlen) {
    for (;;) {
        char **cells;
        size_t n;
        int    r = tp_csv_next(t->csv, &cells, &n, ret_line, err, errlen);
        if (r <= 0)
            return r == -EINVAL && t->n_header == 0 ? -EBADMSG : r;
        if (t->n_header == 0) {
            if ((r = s_header(t, cells, n, *ret_line, err, errlen)) < 0)
                return r;
            continue;
        }
        if (n != t->n_header) {
            snprintf(err, errlen, "%zu cells, but the header has %zu", n, t->n_header);
            return -EINVAL;
        }
        for (size_t i = 0; i < tp_map_n_columns(t->map); i++)
            t->vals[i] = cells[t->colmap[i]];
        r = tp_map_apply_row(t->map, t->vals, err, errlen, ret_env);
        return r < 0 ? r : 1;
    }
}

int tp_input_next(tp_input_t *t, ProtobufCMessage **ret_env, size_t *ret_line, char *err,
                  size_t errlen) {
    if (errlen)
        err[0] = '\0';
    return t->csv ? s_next_csv(t, ret_env, ret_line, err, errlen)
                  : s_next_line(t, ret_env, ret_line, err, errlen);
}
