/* tp_digest — see tp_digest.h. Groups live in a small array searched
 * linearly: a window holds a few hundred keys at most in practice, and the
 * 4096 cap bounds the worst case. */
#include "tp_digest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#define TP_DIGEST_MAX_GROUPS 4096
#define TP_DIGEST_MAX_LISTED 50 /* alerts listed per digest; the counts cover all */

struct group {
    char    *key;
    int64_t  start_wall_ms; /* first alert, wall clock */
    uint64_t end;           /* window closes, monotonic */
    uint64_t firing, resolved, omitted;
    uint64_t min_seq; /* lowest alert sequence inside, 0 = none */
    json_t  *by_rule; /* {"rule": count} */
    json_t  *alerts;  /* first TP_DIGEST_MAX_LISTED */
};

struct tp_digest {
    tp_digest_by_t by;
    uint64_t       window_ms;
    struct group  *groups;
    size_t         n, cap;
};

static const struct {
    const char *name, *field;
} s_by[] = {
    [TP_DIGEST_REP] = { "rep", "repId" },
    [TP_DIGEST_TERRITORY] = { "territory", "territory" },
    [TP_DIGEST_CONTRACT] = { "contract", "contractId" },
    [TP_DIGEST_HCP] = { "hcp", "hcpId" },
};

int tp_digest_parse_by(const char *s, tp_digest_by_t *ret) {
    for (size_t i = 0; i < sizeof s_by / sizeof s_by[0]; i++)
        if (strcmp(s, s_by[i].name) == 0) {
            *ret = (tp_digest_by_t)i;
            return 0;
        }
    return -EINVAL;
}

int tp_digest_new(tp_digest_by_t by, uint64_t window_ms, tp_digest_t **ret) {
    tp_digest_t *d = calloc(1, sizeof *d);
    if (!d)
        return -ENOMEM;
    d->by = by;
    d->window_ms = window_ms;
    *ret = d;
    return 0;
}

static void s_group_free(struct group *g) {
    free(g->key);
    json_decref(g->by_rule);
    json_decref(g->alerts);
}

void tp_digest_destroy(tp_digest_t **p) {
    tp_digest_t *d = p ? *p : NULL;
    if (!d)
        return;
    for (size_t i = 0; i < d->n; i++)
        s_group_free(&d->groups[i]);
    free(d->groups);
    free(d);
    *p = NULL;
}

static const char *s_str(json_t *obj, const char *key, const char *dflt) {
    const char *v = json_string_value(json_object_get(obj, key));
    return v && *v ? v : dflt;
}

/* The group for `key`, opened now if there is none. */
static int s_group(tp_digest_t *d, const char *key, uint64_t now, int64_t wall_ms,
                   struct group **ret) {
    for (size_t i = 0; i < d->n; i++)
        if (strcmp(d->groups[i].key, key) == 0) {
            *ret = &d->groups[i];
            return 0;
        }
    if (d->n == TP_DIGEST_MAX_GROUPS)
        return -ENOSPC;
    if (d->n == d->cap) {
        size_t        cap = d->cap ? d->cap * 2 : 16;
        struct group *g = realloc(d->groups, cap * sizeof *g);
        if (!g)
            return -ENOMEM;
        d->groups = g;
        d->cap = cap;
    }
    struct group g = { .key = strdup(key),
                       .start_wall_ms = wall_ms,
                       .end = now + d->window_ms,
                       .by_rule = json_object(),
                       .alerts = json_array() };
    if (!g.key || !g.by_rule || !g.alerts) {
        s_group_free(&g);
        return -ENOMEM;
    }
    d->groups[d->n] = g;
    *ret = &d->groups[d->n++];
    return 0;
}

int tp_digest_add(tp_digest_t *d, const char *line, uint64_t seq, uint64_t now, int64_t wall_ms) {
    json_t *a = json_loads(line, 0, NULL);
    if (!json_is_object(a)) {
        json_decref(a);
        return -EBADMSG;
    }
    struct group *g;
    int           r = s_group(d, s_str(a, s_by[d->by].field, "(none)"), now, wall_ms, &g);
    if (r < 0)
        goto out;
    const char *status = s_str(a, "status", "ALERT_STATUS_UNSPECIFIED");
    const char *rule = s_str(a, "rule", "(none)");
    size_t      sl = strlen(status);
    bool        resolved = sl >= 8 && strcmp(status + sl - 8, "RESOLVED") == 0;
    json_t     *count = json_object_get(g->by_rule, rule);
    r = -ENOMEM;
    if (json_object_set_new(g->by_rule, rule, json_integer(json_integer_value(count) + 1)) < 0)
        goto out;
    if (json_array_size(g->alerts) < TP_DIGEST_MAX_LISTED) {
        json_t *e = json_pack("{s:s, s:s, s:s, s:s}", "alert_id", s_str(a, "alertId", ""), "status",
                              status, "rule", rule, "summary", s_str(a, "summary", ""));
        if (!e || json_array_append_new(g->alerts, e) < 0)
            goto out;
    } else {
        g->omitted++;
    }
    if (resolved)
        g->resolved++;
    else
        g->firing++;
    if (seq && (g->min_seq == 0 || seq < g->min_seq))
        g->min_seq = seq;
    r = 0;
out:
    json_decref(a);
    return r;
}

uint64_t tp_digest_next(const tp_digest_t *d) {
    uint64_t next = UINT64_MAX;
    for (size_t i = 0; i < d->n; i++)
        if (d->groups[i].end < next)
            next = d->groups[i].end;
    return next;
}

static void s_rfc3339(int64_t ms, char buf[32]) {
    time_t    t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t n = strftime(buf, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, 32 - n, ".%03dZ", (int)(ms % 1000));
}

int tp_digest_take(tp_digest_t *d, uint64_t now, int64_t wall_ms, bool all, char **ret_body,
                   size_t *ret_len, uint64_t *ret_min_seq, char *label, size_t labellen) {
    size_t i = 0;
    while (i < d->n && !all && d->groups[i].end > now)
        i++;
    if (i == d->n)
        return 0;
    struct group *g = &d->groups[i];
    char          start[32], end[32];
    /* the window's nominal end, or now when it is closed early (at exit) */
    int64_t end_ms = g->start_wall_ms + (int64_t)d->window_ms;
    s_rfc3339(g->start_wall_ms, start);
    s_rfc3339(end_ms < wall_ms ? end_ms : wall_ms, end);
    json_t *msg =
        json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:O, s:O, s:I}", "group_by", s_by[d->by].name,
                  "key", g->key, "window_start", start, "window_end", end, "firing",
                  (json_int_t)g->firing, "resolved", (json_int_t)g->resolved, "by_rule", g->by_rule,
                  "alerts", g->alerts, "alerts_omitted", (json_int_t)g->omitted);
    char *body = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
    json_decref(msg);
    if (!body)
        return -ENOMEM;
    *ret_body = body;
    *ret_len = strlen(body);
    *ret_min_seq = g->min_seq;
    snprintf(label, labellen, "digest %s=%.48s (%llu alerts)", s_by[d->by].name, g->key,
             (unsigned long long)(g->firing + g->resolved));
    s_group_free(g);
    memmove(g, g + 1, (d->n - i - 1) * sizeof *g);
    d->n--;
    return 1;
}

uint64_t tp_digest_floor(const tp_digest_t *d) {
    uint64_t floor = UINT64_MAX;
    for (size_t i = 0; i < d->n; i++)
        if (d->groups[i].min_seq && d->groups[i].min_seq < floor)
            floor = d->groups[i].min_seq;
    return floor;
}

size_t tp_digest_open(const tp_digest_t *d) {
    return d->n;
}
