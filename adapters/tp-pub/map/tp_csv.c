/* tp_csv — see tp_csv.h.
 *
 * libcsv is a push parser that calls back per cell and per record. We push
 * one getline() line at a time; completed records queue in `ready` (one line
 * normally completes at most one, but a bare CR inside a line ends a record
 * too). Records own their storage: one byte buffer of NUL-separated cells and
 * an array of pointers into it, reused from record to record, so the steady
 * state allocates nothing.
 */
#include "tp_csv.h"

#include <csv.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

struct record {
    char   *buf; /* cells, each NUL-terminated */
    size_t  len, cap;
    size_t *off;   /* start of each cell in buf */
    char  **cells; /* pointers handed out by tp_csv_next() */
    size_t  n, ncap;
    size_t  line;    /* first physical line */
    bool    too_big; /* over a limit: reported, not handed out */
};

struct tp_csv {
    FILE             *in;
    struct csv_parser parser;
    bool              parser_on; /* csv_init() done */
    char              delim;
    size_t            max_bytes, max_cells;
    char             *line; /* getline() buffer */
    size_t            line_cap, lineno;
    bool              in_record; /* a record has started and not ended */
    bool              eof;
    bool              oom;   /* a callback ran out of memory */
    struct record     cur;   /* being filled by the callbacks */
    struct record    *ready; /* completed, handed out in order */
    size_t            ready_n, ready_pos, ready_cap;
    struct record     out; /* the one handed out last */
};

static void s_record_free(struct record *r) {
    free(r->buf);
    free(r->off);
    free(r->cells);
    *r = (struct record){ 0 };
}

static void s_cell_cb(void *data, size_t len, void *arg) {
    tp_csv_t      *c = arg;
    struct record *r = &c->cur;
    if (r->too_big || c->oom)
        return;
    if (r->n >= c->max_cells || r->len + len + 1 > c->max_bytes) {
        r->too_big = true;
        return;
    }
    if (r->n == r->ncap) {
        size_t  ncap = r->ncap ? r->ncap * 2 : 32;
        size_t *off = realloc(r->off, ncap * sizeof *off);
        if (off)
            r->off = off;
        char **cells = off ? realloc(r->cells, ncap * sizeof *cells) : NULL;
        if (!cells) {
            c->oom = true;
            return;
        }
        r->cells = cells;
        r->ncap = ncap;
    }
    if (r->len + len + 1 > r->cap) {
        size_t cap = r->cap ? r->cap : 1024;
        while (cap < r->len + len + 1)
            cap *= 2;
        char *buf = realloc(r->buf, cap);
        if (!buf) {
            c->oom = true;
            return;
        }
        r->buf = buf;
        r->cap = cap;
    }
    if (len)
        memcpy(r->buf + r->len, data, len);
    r->buf[r->len + len] = '\0';
    r->off[r->n++] = r->len;
    r->len += len + 1;
}

static void s_record_cb(int term, void *arg) {
    (void)term;
    tp_csv_t *c = arg;
    c->in_record = false;
    if (c->oom)
        return;
    if (c->ready_n == c->ready_cap) {
        size_t         cap = c->ready_cap ? c->ready_cap * 2 : 4;
        struct record *ready = realloc(c->ready, cap * sizeof *ready);
        if (!ready) {
            c->oom = true;
            return;
        }
        memset(ready + c->ready_cap, 0, (cap - c->ready_cap) * sizeof *ready);
        c->ready = ready;
        c->ready_cap = cap;
    }
    /* Swap buffers instead of copying: the slot's old storage becomes the
     * next record's. */
    struct record spare = c->ready[c->ready_n];
    c->ready[c->ready_n++] = c->cur;
    c->cur = spare;
    c->cur.len = c->cur.n = 0;
    c->cur.too_big = false;
    c->cur.line = c->lineno;
}

static int s_parser_init(tp_csv_t *c) {
    if (c->parser_on)
        csv_free(&c->parser);
    c->parser_on = false;
    if (csv_init(&c->parser, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL) != 0)
        return -ENOMEM;
    csv_set_delim(&c->parser, (unsigned char)c->delim);
    c->parser_on = true;
    return 0;
}

int tp_csv_new(FILE *in, char delim, size_t max_bytes, size_t max_cells, tp_csv_t **ret) {
    tp_csv_t *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    *c = (tp_csv_t){ .in = in, .delim = delim, .max_bytes = max_bytes, .max_cells = max_cells };
    if (s_parser_init(c) < 0) {
        free(c);
        return -ENOMEM;
    }
    *ret = c;
    return 0;
}

void tp_csv_destroy(tp_csv_t **p) {
    tp_csv_t *c = p ? *p : NULL;
    if (!c)
        return;
    if (c->parser_on)
        csv_free(&c->parser);
    for (size_t i = 0; i < c->ready_cap; i++)
        s_record_free(&c->ready[i]);
    free(c->ready);
    s_record_free(&c->cur);
    s_record_free(&c->out);
    free(c->line);
    free(c);
    *p = NULL;
}

/* Only spaces, tabs (unless tab is the delimiter) and line ends: libcsv
 * skips such a line between records. */
static bool s_blank(const tp_csv_t *c, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!(s[i] == ' ' || s[i] == '\r' || s[i] == '\n' || (s[i] == '\t' && c->delim != '\t')))
            return false;
    return true;
}

/* Throws away what the parser holds after a syntax error and starts afresh
 * on the next line. */
static int s_recover(tp_csv_t *c) {
    c->in_record = false;
    c->cur.len = c->cur.n = 0;
    c->cur.too_big = false;
    return s_parser_init(c);
}

/* Feeds one more line (or the end) to the parser. 0, 1 at EOF (nothing
 * more to feed), -EINVAL with a reason (syntax), or fatal errno. */
static int s_feed(tp_csv_t *c, size_t *ret_line, char *err, size_t errlen) {
    errno = 0;
    ssize_t len = getline(&c->line, &c->line_cap, c->in);
    if (len < 0) {
        if (ferror(c->in))
            return errno ? -errno : -EIO;
        c->eof = true;
        size_t start = c->cur.line;
        if (csv_fini(&c->parser, s_cell_cb, s_record_cb, c) != 0) {
            *ret_line = start;
            snprintf(err, errlen,
                     "unterminated quoted cell (opened on line %zu, still open at "
                     "the end of the file)",
                     start);
            c->in_record = false;
            return -EINVAL;
        }
        return 1;
    }
    c->lineno++;
    const char *s = c->line;
    size_t      n = (size_t)len;
    if (c->lineno == 1 && n >= 3 && !memcmp(s, "\xEF\xBB\xBF", 3)) {
        s += 3;
        n -= 3;
    }
    if (!c->in_record) {
        if (s_blank(c, s, n))
            return 0;
        c->in_record = true;
        c->cur.line = c->lineno;
    }
    if (csv_parse(&c->parser, s, n, s_cell_cb, s_record_cb, c) != n) {
        *ret_line = c->cur.line;
        if (csv_error(&c->parser) == CSV_ENOMEM)
            return -ENOMEM;
        snprintf(err, errlen,
                 "malformed CSV on line %zu: a quote inside an unquoted cell, or "
                 "text after a closing quote",
                 c->lineno);
        return s_recover(c) < 0 ? -ENOMEM : -EINVAL;
    }
    return c->oom ? -ENOMEM : 0;
}

int tp_csv_next(tp_csv_t *c, char ***ret_cells, size_t *ret_n, size_t *ret_line, char *err,
                size_t errlen) {
    for (;;) {
        if (c->ready_pos < c->ready_n) {
            struct record *r = &c->ready[c->ready_pos];
            /* Hand it out through `out`, which keeps it valid until the next
             * call; the slot gets out's old storage. */
            struct record spare = c->out;
            c->out = *r;
            *r = spare;
            if (++c->ready_pos == c->ready_n)
                c->ready_pos = c->ready_n = 0;
            *ret_line = c->out.line;
            if (c->out.too_big) {
                snprintf(err, errlen, "record larger than %zu bytes or %zu cells", c->max_bytes,
                         c->max_cells);
                return -EINVAL;
            }
            for (size_t i = 0; i < c->out.n; i++)
                c->out.cells[i] = c->out.buf + c->out.off[i];
            *ret_cells = c->out.cells;
            *ret_n = c->out.n;
            return 1;
        }
        if (c->eof)
            return 0;
        int r = s_feed(c, ret_line, err, errlen);
        if (r < 0)
            return r;
    }
}
