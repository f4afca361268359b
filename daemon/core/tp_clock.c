/* tp_clock — see tp_clock.h. */
#include "tp_clock.h"

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

char *tp_format_time(int64_t ms, char *buf, size_t len) {
    time_t    secs = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    int       frac = (int)(ms - (int64_t)secs * 1000);
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
