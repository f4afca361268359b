/* tp_testengine — see tp_testengine.h. */
#include "tp_testengine.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static int64_t s_wall(void *ctx) {
    return ((tp_fixture_t *)ctx)->wall_ms;
}

tp_fixture_t *tp_fixture_new(const char *yaml) {
    tp_fixture_t *f = calloc(1, sizeof *f);
    char err[256] = "";
    const char *text = yaml ? yaml : "clock: event\n";
    int r = tp_config_parse(text, strlen(text), "test.yaml", err, sizeof err, &f->cfg);
    if (r < 0)
        fail_msg("config: %s", err);
    assert_int_equal(tp_engine_new(f->cfg, &f->engine), 0);
    tp_engine_set_sink(f->engine, tp_test_sink, &f->got);
    f->wall_ms = TP_T0;
    tp_clock_set_wall(tp_engine_clock(f->engine), s_wall, f);
    return f;
}

void tp_fixture_free(tp_fixture_t *f) {
    tp_test_alerts_clear(&f->got);
    tp_engine_destroy(&f->engine);
    tp_config_destroy(&f->cfg);
    free(f);
}

static int s_send(tp_fixture_t *f, const char *topic, uint8_t *buf, size_t len) {
    tp_frame_t frames[2] = { { topic, strlen(topic) }, { buf, len } };
    int r = tp_engine_handle(f->engine, frames, 2);
    free(buf);
    return r;
}

int tp_fixture_call(tp_fixture_t *f, const tp_test_call_t *c) {
    uint8_t *buf;
    size_t len = tp_test_pack_call(c, &buf);
    return s_send(f, "crm.call", buf, len);
}

int tp_fixture_feedback(tp_fixture_t *f, const tp_test_feedback_t *fb) {
    uint8_t *buf;
    size_t len = tp_test_pack_feedback(fb, &buf);
    return s_send(f, "crm.feedback", buf, len);
}

int tp_fixture_step(tp_fixture_t *f, const tp_test_step_t *s) {
    uint8_t *buf;
    size_t len = tp_test_pack_step(s, &buf);
    return s_send(f, "crm.contracting", buf, len);
}

int tp_fixture_watermark(tp_fixture_t *f, int64_t now_ms) {
    static unsigned n;
    char id[32];
    snprintf(id, sizeof id, "wm-%u", n++);
    uint8_t *buf;
    size_t len = tp_test_pack_watermark(id, now_ms, &buf);
    return s_send(f, "crm.watermark", buf, len);
}

size_t tp_fixture_wall_tick(tp_fixture_t *f, int64_t wall_ms) {
    f->wall_ms = wall_ms;
    return tp_engine_fire_due(f->engine);
}
