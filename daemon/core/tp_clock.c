/* tp_clock — see tp_clock.h. */
#include "tp_clock.h"

#include <stdbool.h>
#include <stdio.h>
#include <time.h>

int64_t tp_realtime_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void tp_clock_init(tp_clock_t *c, tp_clock_mode_t mode) {
    *c = (tp_clock_t){ .mode = mode };
}

void tp_clock_set_wall(tp_clock_t *c, tp_wall_fn fn, void *ctx) {
    c->wall = fn;
    c->wall_ctx = ctx;
}

int64_t tp_clock_now(const tp_clock_t *c) {
    if (c->mode == TP_CLOCK_EVENT)
        return c->event_now_ms;
    return c->wall ? c->wall(c->wall_ctx) : tp_realtime_ms();
}

void tp_clock_observe(tp_clock_t *c, int64_t event_ms) {
    if (event_ms > c->event_now_ms)
        c->event_now_ms = event_ms;
}

/* Writes v as `width` decimal digits at p. */
static char *s_digits(char *p, unsigned v, int width) {
    for (int i = width - 1; i >= 0; i--, v /= 10)
        p[i] = (char)('0' + v % 10);
    return p + width;
}

/* Years 1000..9999 without gmtime_r and strftime (the same text: alerts
 * format a time or two each, and the libc pair cost ~2,300 instructions a
 * call). The civil date from days since 1970 is Howard Hinnant's
 * civil_from_days. Returns false outside that range. */
static bool s_format_fast(int64_t secs, int frac, char *buf, size_t len) {
    if (len < sizeof "YYYY-MM-DDTHH:MM:SS.mmmZ")
        return false;
    int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
    int64_t sod = secs - days * 86400;
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t day = doy - (153 * mp + 2) / 5 + 1;
    int64_t month = mp < 10 ? mp + 3 : mp - 9;
    int64_t year = yoe + era * 400 + (month <= 2);
    if (year < 1000 || year > 9999)
        return false;
    char *p = s_digits(buf, (unsigned)year, 4);
    *p++ = '-';
    p = s_digits(p, (unsigned)month, 2);
    *p++ = '-';
    p = s_digits(p, (unsigned)day, 2);
    *p++ = 'T';
    p = s_digits(p, (unsigned)(sod / 3600), 2);
    *p++ = ':';
    p = s_digits(p, (unsigned)(sod / 60 % 60), 2);
    *p++ = ':';
    p = s_digits(p, (unsigned)(sod % 60), 2);
    if (frac) {
        *p++ = '.';
        p = s_digits(p, (unsigned)frac, 3);
    }
    *p++ = 'Z';
    *p = '\0';
    return true;
}

char *tp_format_time(int64_t ms, char *buf, size_t len) {
    time_t secs = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    int    frac = (int)(ms - (int64_t)secs * 1000);
    if (s_format_fast((int64_t)secs, frac, buf, len))
        return buf;
    struct tm tm;
    if (!gmtime_r(&secs, &tm)) {
        snprintf(buf, len, "%lld", (long long)ms);
        return buf;
    }
    size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
    if (frac)
        snprintf(buf + n, len - n, ".%03dZ", frac);
    else
        snprintf(buf + n, len - n, "Z");
    return buf;
}

char *tp_format_duration(int64_t ms, char *buf, size_t len) {
    static const struct {
        const char *unit;
        int64_t     ms;
    } units[] = {
        { "d", 86400000 }, { "h", 3600000 }, { "m", 60000 }, { "s", 1000 }, { "ms", 1 },
    };
    size_t off = 0;
    if (ms < 0 && len > 1) {
        buf[off++] = '-';
        ms = -ms;
    }
    buf[off] = '\0';
    if (ms == 0) {
        snprintf(buf + off, len - off, "0s");
        return buf;
    }
    /* People read these: "10d", not "10d1ms". Sub-second parts only count
     * for durations under a second. */
    if (ms >= 1000)
        ms -= ms % 1000;
    for (size_t i = 0; i < sizeof units / sizeof units[0] && off < len; i++) {
        int64_t n = ms / units[i].ms;
        if (n == 0)
            continue;
        ms -= n * units[i].ms;
        int w = snprintf(buf + off, len - off, "%lld%s", (long long)n, units[i].unit);
        if (w < 0)
            break;
        off += (size_t)w;
    }
    return buf;
}
