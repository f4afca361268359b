/* tp_timefmt — see tp_timefmt.h. */
#include "tp_timefmt.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Reads exactly n digits. */
static bool s_digits(const char **s, int n, int *ret) {
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*s)[i]))
            return false;
        v = v * 10 + ((*s)[i] - '0');
    }
    *s += n;
    *ret = v;
    return true;
}

/* "Z" or "+HH[[:]MM]" at *s, consuming it. */
static int s_offset(const char **s, int32_t *ret_s) {
    const char *p = *s;
    int         h, m = 0;
    if (*p == 'Z' || *p == 'z') {
        *s = p + 1;
        *ret_s = 0;
        return 0;
    }
    if (*p != '+' && *p != '-')
        return -EINVAL;
    int sign = *p++ == '-' ? -1 : 1;
    if (!s_digits(&p, 2, &h))
        return -EINVAL;
    if (*p == ':')
        p++;
    if (isdigit((unsigned char)*p) && !s_digits(&p, 2, &m))
        return -EINVAL;
    if (h > 18 || m > 59 || h * 3600 + m * 60 > 18 * 3600)
        return -EINVAL;
    *s = p;
    *ret_s = sign * (h * 3600 + m * 60);
    return 0;
}

int tp_timefmt_parse_offset(const char *s, int32_t *ret_s) {
    int32_t off;
    if (!strcmp(s, "UTC") || !strcmp(s, "utc")) {
        *ret_s = 0;
        return 0;
    }
    if (s_offset(&s, &off) < 0 || *s)
        return -EINVAL;
    *ret_s = off;
    return 0;
}

int tp_timefmt_check(const char *fmt) {
    if (!strcmp(fmt, "iso8601") || !strcmp(fmt, "unix_ms") || !strcmp(fmt, "unix_s") ||
        strchr(fmt, '%'))
        return 0;
    return -EINVAL;
}

static int s_to_ms(struct tm *tm, int ms, int32_t off, int64_t *ret_ms) {
    if (tm->tm_mon < 0 || tm->tm_mon > 11 || tm->tm_mday < 1 || tm->tm_mday > 31 ||
        tm->tm_hour > 23 || tm->tm_min > 59 || tm->tm_sec > 60)
        return -EINVAL;
    int    mday = tm->tm_mday;
    time_t t = timegm(tm);
    /* timegm() normalises 02/31 to 03/03: a date that moved was not a date. */
    if (t == (time_t)-1 || tm->tm_mday != mday)
        return -EINVAL;
    *ret_ms = ((int64_t)t - off) * 1000 + ms;
    return 0;
}

static int s_iso(const char *s, int32_t tz, int64_t *ret_ms) {
    struct tm tm = { 0 };
    int       y, mo, d, ms = 0;
    if (!s_digits(&s, 4, &y) || *s++ != '-' || !s_digits(&s, 2, &mo) || *s++ != '-' ||
        !s_digits(&s, 2, &d))
        return -EINVAL;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    if (*s == 'T' || *s == 't' || *s == ' ') {
        s++;
        if (!s_digits(&s, 2, &tm.tm_hour) || *s++ != ':' || !s_digits(&s, 2, &tm.tm_min))
            return -EINVAL;
        if (*s == ':') {
            s++;
            if (!s_digits(&s, 2, &tm.tm_sec))
                return -EINVAL;
            if (*s == '.' || *s == ',') {
                /* Fractions: milliseconds kept, finer digits dropped. */
                int scale = 100, n = 0;
                for (s++; isdigit((unsigned char)*s); s++, n++) {
                    ms += (*s - '0') * scale;
                    scale /= 10;
                }
                if (n == 0)
                    return -EINVAL;
            }
        }
        if (*s && s_offset(&s, &tz) < 0)
            return -EINVAL;
    }
    if (*s)
        return -EINVAL;
    return s_to_ms(&tm, ms, tz, ret_ms);
}

static int s_unix(const char *s, int64_t scale, int64_t *ret_ms) {
    char *end;
    if (!isdigit((unsigned char)*s) && !(*s == '-' && isdigit((unsigned char)s[1])))
        return -EINVAL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*end || errno == ERANGE || v > INT64_MAX / scale || v < INT64_MIN / scale)
        return -EINVAL;
    *ret_ms = (int64_t)v * scale;
    return 0;
}

int tp_timefmt_parse(const char *s, const char *fmt, int32_t tz_offset_s, int64_t *ret_ms) {
    if (!s || !*s)
        return -EINVAL;
    if (!strcmp(fmt, "iso8601"))
        return s_iso(s, tz_offset_s, ret_ms);
    if (!strcmp(fmt, "unix_ms"))
        return s_unix(s, 1, ret_ms);
    if (!strcmp(fmt, "unix_s"))
        return s_unix(s, 1000, ret_ms);
    struct tm   tm = { .tm_mday = 1 };
    const char *end = strptime(s, fmt, &tm);
    while (end && *end == ' ')
        end++;
    if (!end || *end)
        return -EINVAL;
    int32_t off = strstr(fmt, "%z") ? (int32_t)tm.tm_gmtoff : tz_offset_s;
    return s_to_ms(&tm, 0, off, ret_ms);
}
