/* fuzz_config — the YAML config parser (daemon/config/tp_config*.c) on arbitrary
 * text. A refused config must leave *ret alone and explain itself in one
 * line "fuzz.yaml:<line>: ..."; an accepted one must drive an engine: a
 * fixed script of calls, steps, feedback and watermarks runs through an
 * engine built from it (clock wall or event as configured, the wall clock
 * faked), so every rule's use of every configurable value is exercised. The
 * input is also tried as a duration ("48h"). */
#include "tp_fuzz.h"

#include <errno.h>
#include <string.h>

#define NAME "fuzz.yaml"

/* Structured records (see tp_fuzz_drive): [op][len][envelope: id, source,
 * sequence, dt (2 bytes, 5-minute steps)][payload fields]. */
#define HDR(dt) 0, 0, 0, ((dt) >> 8) & 0xFF, (dt)&0xFF
#define CALL(dt, call, hcp, rep, chan_status, off_h, fields) \
    0x80, 0, 14, HDR(dt), call, hcp, rep, chan_status, off_h, fields, 0, 0, 0
#define STEP(dt, k, x, step, owner)             0x81, 0, 11, HDR(dt), k, 0, 0, x, step, owner
#define FEEDBACK(dt, hcp, x, subj, nps, effort) 0x82, 0, 10, HDR(dt), hcp, x, subj, nps, effort
#define IN_PERSON_PLANNED                       0x01
#define IN_PERSON_SUBMITTED                     0x11
#define PHONE_SUBMITTED                         0x12
#define EMAIL_SUBMITTED                         0x14
#define SPEAKER_STARTED_HCP                     0x21 /* type 1, state STARTED, hcp_action */
#define SPEAKER_COMPLETED                       0x09
#define SPEAKER_RETURNED                        0x11
#define SPEAKER_CLOSED                          0x49 /* COMPLETED, case_closed */

static const uint8_t s_script[] = {
    CALL(0, 0, 0, 0, IN_PERSON_PLANNED, 0xF0, 0),     /* planned 16h ahead, never submitted */
    CALL(12, 1, 0, 1, IN_PERSON_SUBMITTED, 72, 0x05), /* late and incomplete */
    CALL(12, 2, 0, 2, EMAIL_SUBMITTED, 2, 0x7F),
    FEEDBACK(12, 1, 0x0F, 0, 0x82, 0x86), /* detractor preferring video */
    CALL(12, 3, 1, 3, PHONE_SUBMITTED, 1, 0x0F),
    CALL(12, 4, 1, 4, PHONE_SUBMITTED, 1, 0x0F),
    CALL(12, 5, 1, 0, PHONE_SUBMITTED, 1, 0x0F),
    STEP(12, 0, SPEAKER_STARTED_HCP, 0, 0),
    STEP(288, 0, SPEAKER_COMPLETED, 0, 0),
    STEP(12, 0, SPEAKER_STARTED_HCP, 2, 1),
    STEP(12, 0, SPEAKER_RETURNED, 2, 2),
    STEP(12, 0, SPEAKER_RETURNED, 2, 3),
    STEP(12, 0, SPEAKER_STARTED_HCP, 3, 4),
    STEP(12, 1, SPEAKER_STARTED_HCP, 1, 5), /* a second contract, left open */
    STEP(4000, 0, SPEAKER_CLOSED, 3, 4),
    FEEDBACK(12, 0, 0x02, 0, 0x83, 0), /* negative, about K-0 */
    0x83,
    0,
    7,
    HDR(0),
    0xFF,
    0xFE, /* watermark ~227 days on */
    0x83,
    0,
    7,
    HDR(0),
    0xFF,
    0xFF, /* INT64_MAX: refused */
};

static int64_t s_wall(void *ctx) {
    (void)ctx;
    return 1767225600000LL + 400LL * 86400000; /* after the whole script */
}

static void s_run(tp_config_t *cfg) {
    /* The window is allocated up front; the script needs a few dozen. */
    if (cfg->dedup_window > 4096)
        cfg->dedup_window = 4096;
    tp_engine_t *e;
    if (tp_engine_new(cfg, &e) < 0)
        tp_fuzz_fail("tp_engine_new refused an accepted config");
    tp_clock_set_wall(tp_engine_clock(e), s_wall, NULL);
    tp_fuzz_drive(e, s_script, sizeof s_script);
    tp_engine_destroy(&e);
}

int tp_fuzz_config(const uint8_t *data, size_t size) {
    char               err[256];
    tp_config_t *const sentinel = (tp_config_t *)err;
    tp_config_t       *cfg = sentinel;
    int                r = tp_config_parse((const char *)data, size, NAME, err, sizeof err, &cfg);
    if (r == 0) {
        if (!cfg || cfg == sentinel)
            tp_fuzz_fail("accepted config not returned");
        s_run(cfg);
        tp_config_destroy(&cfg);
    } else {
        if (r != -EINVAL && r != -ENOMEM)
            tp_fuzz_fail("tp_config_parse returned %d", r);
        if (cfg != sentinel)
            tp_fuzz_fail("refused config wrote *ret");
        if (!memchr(err, '\0', sizeof err))
            tp_fuzz_fail("error is not NUL-terminated");
        if (r == -EINVAL && strncmp(err, NAME ":", strlen(NAME ":")) != 0)
            tp_fuzz_fail("error does not start with \"" NAME ":\": \"%s\"", err);
        for (const char *p = err; *p; p++)
            if ((unsigned char)*p < 0x20)
                tp_fuzz_fail("error contains a control character: \"%s\"", err);
    }

    char   text[64];
    size_t n = size < sizeof text - 1 ? size : sizeof text - 1;
    memcpy(text, data, n);
    text[n] = '\0';
    int64_t ms = -1;
    if (tp_config_duration_parse(text, &ms) == 0 && ms < 0)
        tp_fuzz_fail("duration \"%s\" parsed as %lld ms", text, (long long)ms);
    return 0;
}

#ifndef TP_FUZZ_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    return tp_fuzz_config(data, size);
}
#endif
