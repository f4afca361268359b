/* tp_codec — see tp_codec.h. */
#include "tp_codec.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tp_config.h"

static const char *const s_bad_names[TP_BAD__COUNT] = {
    [TP_BAD_NONE] = "none",     [TP_BAD_FRAMES] = "frames",     [TP_BAD_TOPIC] = "topic",
    [TP_BAD_DECODE] = "decode", [TP_BAD_MISMATCH] = "mismatch", [TP_BAD_INVALID] = "invalid",
    [TP_BAD_EMPTY] = "empty",
};

const char *tp_bad_name(tp_bad_t bad) {
    return bad < TP_BAD__COUNT ? s_bad_names[bad] : "unknown";
}

/* Nonzero if a byte of x is below 0x20 or is 0x7f (DEL): the classic
 * "has a byte less than n" test, and "has a zero byte" on x ^ 0x7f7f... */
static inline uint64_t s_ctl_bytes(uint64_t x) {
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    uint64_t       del = x ^ (0x7fULL * ones);
    return ((x - 0x20ULL * ones) | (del - ones)) & ~x & highs;
}

static inline uint64_t s_load8(const char *p) {
    uint64_t x;
    memcpy(&x, p, sizeof x);
    return x;
}

/* The 1..7 bytes of a short string in one word, never reading past its
 * end: two overlapping 4-byte loads, or for 1..3 bytes the first, middle
 * and last byte; the rest of the word is 'a' (not a control byte). */
static inline uint64_t s_load_short(const char *s, size_t n) {
    if (n >= 4) {
        uint32_t lo, hi;
        memcpy(&lo, s, sizeof lo);
        memcpy(&hi, s + n - 4, sizeof hi);
        return lo | (uint64_t)hi << 32;
    }
    return (uint64_t)(unsigned char)s[0] | (uint64_t)(unsigned char)s[n / 2] << 8 |
           (uint64_t)(unsigned char)s[n - 1] << 16 | 0x6161616161000000ULL;
}

/* 0 if the n bytes of s (n >= 1) hold no control byte. */
static inline uint64_t s_ctl_in(const char *s, size_t n) {
    if (n < 8)
        return s_ctl_bytes(s_load_short(s, n));
    /* Whole words, then the last eight bytes (overlapping is fine). */
    uint64_t bad = 0;
    size_t   i = 0;
    for (; i + 8 <= n; i += 8)
        bad |= s_ctl_bytes(s_load8(s + i));
    if (i < n)
        bad |= s_ctl_bytes(s_load8(s + n - 8));
    return bad;
}

/* Why an id is refused (the rare path, kept out of line so the check
 * below needs no stack frame of its own). */
static __attribute__((noinline, cold)) bool s_id_bad(const char *s, bool required,
                                                     const char *field, char *why, size_t whylen) {
    if (!s || !*s) {
        if (required)
            snprintf(why, whylen, "%s is missing", field);
        return !required;
    }
    size_t n = strlen(s);
    if (s_ctl_in(s, n))
        snprintf(why, whylen, "%s contains a control character", field);
    else
        snprintf(why, whylen, "%s is longer than %d bytes", field, TP_ID_MAX);
    return false;
}

/* An id is checked because it ends up in alert ids, log lines and hash
 * keys: bounded, and free of control bytes that would corrupt a log line.
 * Runs for every id of every event (6 to 9 of them): strlen, then eight
 * bytes at a time within the string. */
static inline bool s_id_ok(const char *s, bool required, const char *field, char *why,
                           size_t whylen) {
    if (s && *s) {
        size_t n = strlen(s);
        if (n <= TP_ID_MAX && !s_ctl_in(s, n))
            return true;
    }
    return s_id_bad(s, required, field, why, whylen);
}

static bool s_range_ok(int v, int lo, int hi, const char *field, char *why, size_t whylen) {
    if (v >= lo && v <= hi)
        return true;
    snprintf(why, whylen, "%s %d is out of range %d..%d", field, v, lo, hi);
    return false;
}

static bool s_time_ok(int64_t ms, const char *field, char *why, size_t whylen) {
    if (ms > 0 && ms <= TP_TIME_MAX_MS)
        return true;
    snprintf(why, whylen, "%s must be a positive unix time in ms, at most %lld (year 9999)", field,
             TP_TIME_MAX_MS);
    return false;
}

static bool s_call_ok(const Touchpoint__V1__CallLogged *c, char *why, size_t n) {
    return s_id_ok(c->call_id, true, "call.call_id", why, n) &&
           s_id_ok(c->hcp_id, true, "call.hcp_id", why, n) &&
           s_id_ok(c->rep_id, true, "call.rep_id", why, n) &&
           s_id_ok(c->account_id, false, "call.account_id", why, n) &&
           s_id_ok(c->territory, false, "call.territory", why, n) &&
           s_range_ok((int)c->channel, 0, TP_CHANNEL_COUNT - 1, "call.channel", why, n) &&
           s_range_ok((int)c->status, 1, 4, "call.status", why, n) &&
           s_time_ok(c->call_at_ms, "call.call_at_ms", why, n) &&
           (c->submitted_at_ms <= 0 ||
            s_time_ok(c->submitted_at_ms, "call.submitted_at_ms", why, n));
}

static bool s_step_ok(const Touchpoint__V1__ContractingStep *s, char *why, size_t n) {
    return s_id_ok(s->contract_id, true, "contracting.contract_id", why, n) &&
           s_id_ok(s->hcp_id, false, "contracting.hcp_id", why, n) &&
           s_id_ok(s->rep_id, false, "contracting.rep_id", why, n) &&
           s_id_ok(s->step, true, "contracting.step", why, n) &&
           s_id_ok(s->owner_id, false, "contracting.owner_id", why, n) &&
           s_range_ok((int)s->contract_type, 0, TP_CONTRACT_TYPE_COUNT - 1,
                      "contracting.contract_type", why, n) &&
           s_range_ok((int)s->state, 1, 4, "contracting.state", why, n) &&
           s_time_ok(s->at_ms, "contracting.at_ms", why, n);
}

static bool s_feedback_ok(const Touchpoint__V1__Feedback *f, char *why, size_t n) {
    if (!s_id_ok(f->feedback_id, true, "feedback.feedback_id", why, n) ||
        !s_id_ok(f->hcp_id, true, "feedback.hcp_id", why, n) ||
        !s_id_ok(f->subject_id, false, "feedback.subject_id", why, n) ||
        !s_range_ok((int)f->preferred_channel, 0, TP_CHANNEL_COUNT - 1,
                    "feedback.preferred_channel", why, n) ||
        !s_time_ok(f->at_ms, "feedback.at_ms", why, n))
        return false;
    const char *st = f->subject_type ? f->subject_type : "";
    if (*st && strcmp(st, "call") != 0 && strcmp(st, "contract") != 0 &&
        strcmp(st, "general") != 0) {
        snprintf(why, n, "feedback.subject_type must be call, contract or general");
        return false;
    }
    if (f->nps_value_case == TOUCHPOINT__V1__FEEDBACK__NPS_VALUE_NPS &&
        !s_range_ok(f->nps, 0, 10, "feedback.nps", why, n))
        return false;
    /* 1..10 rather than 1..7: survey tools differ in scale length; the
     * per-source scale is applied by the rules, not here. */
    if (f->effort_score_value_case == TOUCHPOINT__V1__FEEDBACK__EFFORT_SCORE_VALUE_EFFORT_SCORE &&
        !s_range_ok(f->effort_score, 1, 10, "feedback.effort_score", why, n))
        return false;
    return true;
}

tp_bad_t tp_codec_validate(const Touchpoint__V1__Envelope *env, char *why, size_t n) {
    if (!s_id_ok(env->event_id, true, "event_id", why, n) ||
        !s_id_ok(env->source, true, "source", why, n) ||
        !s_time_ok(env->occurred_at_ms, "occurred_at_ms", why, n))
        return TP_BAD_INVALID;
    bool ok;
    switch (env->payload_case) {
    case TOUCHPOINT__V1__ENVELOPE__PAYLOAD_CALL: ok = s_call_ok(env->call, why, n); break;
    case TOUCHPOINT__V1__ENVELOPE__PAYLOAD_CONTRACTING:
        ok = s_step_ok(env->contracting, why, n);
        break;
    case TOUCHPOINT__V1__ENVELOPE__PAYLOAD_FEEDBACK:
        ok = s_feedback_ok(env->feedback, why, n);
        break;
    case TOUCHPOINT__V1__ENVELOPE__PAYLOAD_WATERMARK:
        ok = s_time_ok(env->watermark->now_ms, "watermark.now_ms", why, n);
        break;
    default: snprintf(why, n, "envelope has no payload"); return TP_BAD_MISMATCH;
    }
    return ok ? TP_BAD_NONE : TP_BAD_INVALID;
}

tp_bad_t tp_codec_decode(const tp_frame_t *frames, size_t nframes, ProtobufCAllocator *alloc,
                         Touchpoint__V1__Envelope **ret_env, char *why, size_t whylen) {
    if (nframes != 2) {
        snprintf(why, whylen, "expected 2 frames [topic, Envelope], got %zu", nframes);
        return TP_BAD_FRAMES;
    }
    Touchpoint__V1__Envelope__PayloadCase want =
        tp_payload_for_topic(frames[0].data, frames[0].len);
    if (want == TOUCHPOINT__V1__ENVELOPE__PAYLOAD__NOT_SET) {
        /* Print at most 64 bytes of the topic, with '?' for unprintables. */
        char   t[65];
        size_t tn = frames[0].len < 64 ? frames[0].len : 64;
        for (size_t i = 0; i < tn; i++) {
            unsigned char ch = ((const unsigned char *)frames[0].data)[i];
            t[i] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
        }
        t[tn] = '\0';
        snprintf(why, whylen, "unknown topic \"%s\"", t);
        return TP_BAD_TOPIC;
    }
    /* Zero bytes decode as an Envelope with every field unset, which
     * would pass for a topic/payload mismatch: say what it is. */
    if (frames[1].len == 0) {
        snprintf(why, whylen, "frame 2 is empty (expected an Envelope)");
        return TP_BAD_EMPTY;
    }
    Touchpoint__V1__Envelope *env =
        touchpoint__v1__envelope__unpack(alloc, frames[1].len, frames[1].data);
    if (!env) {
        snprintf(why, whylen, "frame 2 (%zu bytes) is not a valid Envelope", frames[1].len);
        return TP_BAD_DECODE;
    }
    tp_bad_t bad;
    if (env->payload_case != want) {
        const char *got = tp_topic_for_payload(env->payload_case);
        snprintf(why, whylen, "topic %s carries %s payload", tp_topic_for_payload(want),
                 got ? got + 4 : "no");
        bad = TP_BAD_MISMATCH;
    } else {
        bad = tp_codec_validate(env, why, whylen);
    }
    if (bad != TP_BAD_NONE) {
        touchpoint__v1__envelope__free_unpacked(env, alloc);
        return bad;
    }
    *ret_env = env;
    return TP_BAD_NONE;
}

void tp_codec_event_id(const tp_frame_t *envelope, char *buf, size_t len) {
    if (!len)
        return;
    buf[0] = '\0';
    Touchpoint__V1__Envelope *env =
        touchpoint__v1__envelope__unpack(NULL, envelope->len, envelope->data);
    if (!env)
        return;
    if (env->event_id && strlen(env->event_id) <= TP_ID_MAX)
        snprintf(buf, len, "%s", env->event_id);
    touchpoint__v1__envelope__free_unpacked(env, NULL);
}
