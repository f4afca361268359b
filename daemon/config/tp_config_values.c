/* tp_config_values — scalar values as the config writes them: strict
 * integers, durations with a unit, http.listen addresses, call field names.
 * Used by the setters (tp_config_types.c) and, through tp_config.h, by the
 * modules that read the same notations (the HTTP endpoint, the rules). */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "tp_config_internal.h"

/* Writes an integer into a field of any width the table describes. */
void tp_config_store(void *dst, size_t size, int64_t v) {
    if (size == sizeof(bool)) {
        bool b = v != 0;
        memcpy(dst, &b, sizeof(b));
    } else if (size == sizeof(uint32_t)) {
        uint32_t u = (uint32_t)v;
        memcpy(dst, &u, sizeof(u));
    } else {
        memcpy(dst, &v, sizeof(v));
    }
}

/* Decimal digits only, optional leading '-' when `sign`: no spaces, no '+',
 * no hex. Returns -EINVAL for bad syntax, -ERANGE when it does not fit. */
int tp_config_parse_i64(const char *s, bool sign, int64_t *ret_v) {
    bool neg = sign && *s == '-';
    s += neg;
    if (!isdigit((unsigned char)*s))
        return -EINVAL;
    int64_t v = 0;
    bool    overflow = false;
    for (; isdigit((unsigned char)*s); s++) {
        int d = *s - '0';
        if (v > (INT64_MAX - d) / 10)
            overflow = true;
        else
            v = v * 10 + d;
    }
    if (*s)
        return -EINVAL;
    if (overflow)
        return -ERANGE;
    *ret_v = neg ? -v : v;
    return 0;
}

static int s_duration(const char *s, int64_t *ret_ms) {
    static const struct {
        const char *unit;
        int64_t     ms;
    } units[] = {
        { "ms", 1 },      { "s", 1000 },     { "m", 60000 },
        { "h", 3600000 }, { "d", 86400000 }, { "w", 604800000 },
    };
    size_t digits = 0;
    while (isdigit((unsigned char)s[digits]))
        digits++;
    if (digits == 0 || digits > 19)
        return digits ? -ERANGE : -EINVAL;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(s + digits, units[i].unit))
            continue;
        char    num[20];
        int64_t v;
        memcpy(num, s, digits);
        num[digits] = '\0';
        if (tp_config_parse_i64(num, false, &v) < 0 || v > INT64_MAX / units[i].ms)
            return -ERANGE;
        *ret_ms = v * units[i].ms;
        return 0;
    }
    return -EINVAL;
}

int tp_config_duration_parse(const char *s, int64_t *ret_ms) {
    if (!s || !ret_ms)
        return -EINVAL;
    int64_t ms;
    if (s_duration(s, &ms) < 0 || ms == 0)
        return -EINVAL;
    *ret_ms = ms;
    return 0;
}

/* A duration node, with the error every duration key reports. */
int tp_config_node_duration(tp_config_ctx_t *p, const char *path, yaml_node_t *n, int64_t min,
                            int64_t max, int64_t *ret_ms) {
    const char *v = ""; /* set by tp_config_node_text; -O3 cannot see it */
    int64_t     ms = 0;
    int         r = tp_config_node_text(p, path, n, &v);
    if (r < 0)
        return r;
    r = s_duration(v, &ms);
    if (r == -EINVAL)
        return tp_config_fail(p, n,
                              "%s: invalid duration \"%.64s\" (expected a number with a unit: "
                              "ms, s, m, h, d, w)",
                              path, v);
    if (r < 0 || ms > max || ms < min)
        return tp_config_fail(p, n,
                              "%s: duration \"%.64s\" out of range (expected %s and at most "
                              "%lld%s)",
                              path, v, min ? "more than 0" : "0 or more",
                              (long long)(max >= 86400000 ? max / 86400000 : max),
                              max >= 86400000 ? "d" : "ms");
    *ret_ms = ms;
    return 0;
}

int tp_config_listen_parse(const char *s, char *ret_host, size_t hostlen, unsigned *ret_port) {
    char        host[64];
    const char *colon;
    size_t      hl;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':')
            return -EINVAL;
        hl = (size_t)(close - s - 1);
        colon = close + 1;
        if (hl == 0 || hl >= sizeof host)
            return -EINVAL;
        memcpy(host, s + 1, hl);
        host[hl] = '\0';
        struct in6_addr a6;
        if (inet_pton(AF_INET6, host, &a6) != 1)
            return -EINVAL;
    } else {
        colon = strrchr(s, ':');
        if (!colon)
            return -EINVAL;
        hl = (size_t)(colon - s);
        if (hl == 0 || hl >= sizeof host)
            return -EINVAL;
        memcpy(host, s, hl);
        host[hl] = '\0';
        struct in_addr a4;
        if (inet_pton(AF_INET, host, &a4) != 1)
            return -EINVAL;
    }
    int64_t port;
    if (tp_config_parse_i64(colon + 1, false, &port) < 0 || port > 65535 || hl >= hostlen)
        return -EINVAL;
    memcpy(ret_host, host, hl + 1);
    *ret_port = (unsigned)port;
    return 0;
}

unsigned tp_config_field_from_name(const char *name) {
    for (unsigned i = 0; name && i < TP_FIELD_COUNT; i++)
        if (!strcmp(name, tp_config_field_names[i]))
            return 1u << i;
    return 0;
}

const char *tp_config_field_name(unsigned bit) {
    for (unsigned i = 0; i < TP_FIELD_COUNT; i++)
        if (bit == 1u << i)
            return tp_config_field_names[i];
    return NULL;
}
