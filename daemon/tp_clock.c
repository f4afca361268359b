/* tp_clock — see tp_clock.h. */
#include "tp_clock.h"

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
