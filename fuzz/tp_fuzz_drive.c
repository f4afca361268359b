/* tp_fuzz_drive — bytes to a sequence of bus messages for one engine; see
 * tp_fuzz.h for the record format. */
#include "tp_fuzz.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tp_json.h"

#define T0       1767225600000LL /* 2026-01-01T00:00:00Z: where structured time starts */
#define MINUTE   60000LL
#define HOUR     (60 * MINUTE)
#define DAY      (24 * HOUR)
#define FLUSH_MS ((int64_t)2 * 3650 * DAY) /* past every rule's and retention's horizon */

void tp_fuzz_fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "fuzz invariant: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    abort();
}

/* ---- the alert sink: every alert must be well-formed -------------------- */

typedef struct {
    uint64_t n;        /* alerts seen */
    uint64_t next_seq; /* sequence the next one must carry (0: not known yet) */
} s_sink_t;

static int s_sink_cb(void *ctx, const char *topic, const uint8_t *buf, size_t len,
                     const Touchpoint__V1__Alert *alert) {
    s_sink_t              *s = ctx;
    Touchpoint__V1__Alert *copy = touchpoint__v1__alert__unpack(NULL, len, buf);
    if (!copy)
        tp_fuzz_fail("alert %" PRIu64 " (%zu bytes) does not unpack", s->n, len);
    const char *kind = tp_alert_kind_prefix(copy->kind);
    size_t      kl = strlen(kind);
    if (strncmp(topic, kind, kl) != 0 || topic[kl] != '.' ||
        strcmp(topic + kl + 1, copy->rule) != 0)
        tp_fuzz_fail("alert topic \"%s\" is not <kind>.<rule> for %s/%s", topic, kind, copy->rule);
    if (copy->sequence != alert->sequence || strcmp(copy->alert_id, alert->alert_id) != 0)
        tp_fuzz_fail("packed alert differs from the unpacked one handed to the sink");
    if (s->next_seq && copy->sequence != s->next_seq)
        tp_fuzz_fail("alert sequence %" PRIu64 ", expected %" PRIu64, copy->sequence, s->next_seq);
    if (copy->status != TOUCHPOINT__V1__ALERT_STATUS__ALERT_STATUS_FIRING &&
        copy->status != TOUCHPOINT__V1__ALERT_STATUS__ALERT_STATUS_RESOLVED)
        tp_fuzz_fail("alert status %d", (int)copy->status);
    s->next_seq = copy->sequence + 1;
    s->n++;
    /* What --print-alerts and tp-tail do with it. */
    char *line = NULL;
    int   r = tp_json_dumps_alert(topic, strlen(topic), &copy->base, &line);
    if (r < 0)
        tp_fuzz_fail("alert %s does not print as JSON: %d", copy->alert_id, r);
    free(line);
    touchpoint__v1__alert__free_unpacked(copy, NULL);
    return 0;
}

/* ---- structured events --------------------------------------------------- */

typedef struct {
    const uint8_t *p;
    size_t         n;
} s_reader_t;

/* The next byte, 0 once the payload is used up (so a short payload still
 * makes an event: every field's 0 is a sensible default). */
static uint8_t s_u8(s_reader_t *r) {
    if (r->n == 0)
        return 0;
    r->n--;
    return *r->p++;
}

static unsigned s_u16(s_reader_t *r) {
    unsigned hi = s_u8(r);
    return hi << 8 | s_u8(r);
}

typedef struct {
    int64_t  cursor_ms;   /* structured event time; moves forward */
    uint64_t seq[4];      /* last sequence sent, per pooled source */
    unsigned n;           /* structured events made */
    char     last_id[32]; /* event_id of the last one, to repeat it */
} s_gen_t;

typedef struct {
    char event_id[32], source[TP_ID_MAX + 1], feedback_id[32];
    char a[TP_ID_MAX + 1], b[TP_ID_MAX + 1], c[TP_ID_MAX + 1], d[TP_ID_MAX + 1];
    char e[TP_ID_MAX + 1];
} s_ids_t;

/* An id from a small pool: `prefix` + (k % pool) for k = b & 15 below 14;
 * 14 is a TP_ID_MAX-byte ASCII id, 15 a TP_ID_MAX-byte id of two-byte UTF-8
 * characters cut mid-character (so summaries truncate and JSON prints
 * U+FFFD). Returns buf. */
static char *s_id(char *buf, const char *prefix, uint8_t b, unsigned pool) {
    unsigned k = b & 15;
    if (k < 14) {
        snprintf(buf, TP_ID_MAX + 1, "%s%u", prefix, k % pool);
        return buf;
    }
    size_t n = (size_t)snprintf(buf, TP_ID_MAX + 1, "%s", prefix);
    while (n < TP_ID_MAX) {
        if (k == 14) {
            buf[n] = (char)('a' + n % 26);
            n++;
        } else {
            buf[n++] = (char)0xC3;
            if (n < TP_ID_MAX - 1) /* the last byte is always a lone lead byte */
                buf[n++] = (char)0xA9;
        }
    }
    buf[n] = '\0';
    return buf;
}

static const char *const s_sources[] = { "veeva-eu", "veeva-us", "qualtrics" };
static const char *const s_steps[] = { "NOMINATION",    "NEEDS_ASSESSMENT",    "FMV_REVIEW",
                                       "CONTRACT_SENT", "COMPLIANCE_APPROVAL", "SIGNATURE",
                                       "PAYMENT" };
static const char *const s_subject_types[] = { "", "call", "contract", "general" };
static char             *s_products[] = { "Cardiozan", "Neurolix" };
static char             *s_topics[] = { "efficacy", "dosing" };
static char             *s_attendees[] = { "Dr. Weber", "Dr. \xC3\xA9\xFF" };

/* The common Envelope fields; the payload is the caller's. */
static void s_envelope(s_gen_t *g, s_reader_t *r, s_ids_t *ids, Touchpoint__V1__Envelope *env) {
    uint8_t  idc = s_u8(r), src = s_u8(r), seqc = s_u8(r);
    unsigned dt = s_u16(r);

    if (idc == 0xFF && g->last_id[0])
        snprintf(ids->event_id, sizeof ids->event_id, "%s", g->last_id); /* a redelivery */
    else
        snprintf(ids->event_id, sizeof ids->event_id, "s%u", g->n);
    snprintf(g->last_id, sizeof g->last_id, "%s", ids->event_id);
    g->n++;

    unsigned si = src & 3;
    if (si < 3)
        snprintf(ids->source, sizeof ids->source, "%s", s_sources[si]);
    else
        s_id(ids->source, "src-", src >> 2, 2);
    uint64_t *last = &g->seq[si];
    switch (seqc & 7) {
    case 1: env->sequence = 0; break;                         /* unsequenced */
    case 2: *last = env->sequence = 1; break;                 /* restart */
    case 3: *last = env->sequence = *last + 3; break;         /* gap */
    case 4: env->sequence = *last > 1 ? *last - 1 : 1; break; /* regression */
    default: *last = env->sequence = *last + 1; break;
    }
    /* Time moves forward in steps of 5 minutes (up to ~227 days); now and
     * then an event is back-dated (a late arrival). */
    g->cursor_ms += (int64_t)dt * 5 * MINUTE;
    env->occurred_at_ms = g->cursor_ms;
    if (seqc & 0x08)
        env->occurred_at_ms -= (int64_t)(seqc >> 4) * 6 * HOUR;
    if (env->occurred_at_ms <= 0)
        env->occurred_at_ms = 1;
    /* The extremes a producer can send: past the end of time (refused),
     * the earliest valid times, the latest valid ones. The cursor stays. */
    if (idc != 0xFF && (idc & 0x60) == 0x20)
        env->occurred_at_ms = INT64_MAX - (idc & 0x1F);
    else if (idc != 0xFF && (idc & 0x60) == 0x40)
        env->occurred_at_ms = 1 + (idc & 0x1F);
    else if (idc != 0xFF && (idc & 0x60) == 0x60)
        env->occurred_at_ms = TP_TIME_MAX_MS - (idc & 0x1F);
    env->event_id = ids->event_id;
    env->source = ids->source;
}

static void s_call(s_reader_t *r, s_ids_t *ids, Touchpoint__V1__Envelope *env,
                   Touchpoint__V1__CallLogged *call) {
    touchpoint__v1__call_logged__init(call);
    call->call_id = s_id(ids->a, "C-", s_u8(r), 6);
    call->hcp_id = s_id(ids->b, "H-", s_u8(r), 4);
    call->rep_id = s_id(ids->c, "R-", s_u8(r), 5);
    uint8_t x = s_u8(r);
    call->channel = (Touchpoint__V1__Channel)(x % 7);
    call->status = (Touchpoint__V1__CallStatus)(((x >> 3) & 3) + 1);
    /* call_at: hours before the envelope (after it for negative offsets: a
     * planned call), 0 keeps it equal, -128 is the largest time there is. */
    int8_t off = (int8_t)s_u8(r);
    if (off == INT8_MIN)
        call->call_at_ms = INT64_MAX;
    else if (env->occurred_at_ms < INT64_MAX - 128 * HOUR)
        call->call_at_ms = env->occurred_at_ms - (int64_t)off * HOUR;
    else
        call->call_at_ms = env->occurred_at_ms;
    if (call->call_at_ms <= 0)
        call->call_at_ms = 1;
    uint8_t fields = s_u8(r);
    /* submitted_at: the envelope's time (for a SUBMITTED call), unset,
     * INT64_MAX, the smallest or the largest valid time, or days after the
     * event. */
    uint8_t sub = s_u8(r);
    bool    submitted = call->status == TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_SUBMITTED;
    switch (sub & 7) {
    case 1: call->submitted_at_ms = 0; break;
    case 2: call->submitted_at_ms = INT64_MAX; break;
    case 3: call->submitted_at_ms = 1; break;
    case 5: call->submitted_at_ms = TP_TIME_MAX_MS; break;
    case 4:
        call->submitted_at_ms = env->occurred_at_ms < INT64_MAX - 32 * DAY
                                    ? env->occurred_at_ms + (int64_t)(sub >> 3) * DAY
                                    : env->occurred_at_ms;
        break;
    default: call->submitted_at_ms = submitted ? env->occurred_at_ms : 0; break;
    }
    if (fields & TP_FIELD_PRODUCTS) {
        call->n_products = 1 + (fields >> 7);
        call->products = s_products;
    }
    if (fields & TP_FIELD_TOPICS) {
        call->n_topics = 2;
        call->topics = s_topics;
    }
    if (fields & TP_FIELD_ATTENDEES) {
        call->n_attendees = 1 + (fields >> 7);
        call->attendees = s_attendees;
    }
    if (fields & TP_FIELD_NOTES)
        call->notes = "Discussed the renal subgroup data.";
    if (fields & TP_FIELD_NEXT_STEP)
        call->next_step = "Send the reprint.";
    call->account_id = (fields & TP_FIELD_ACCOUNT_ID) ? s_id(ids->d, "ACC-", s_u8(r), 3) : "";
    call->territory = (fields & TP_FIELD_TERRITORY) ? s_id(ids->e, "T-", s_u8(r), 2) : "";
    env->payload_case = TOUCHPOINT__V1__ENVELOPE__PAYLOAD_CALL;
    env->call = call;
}

static void s_step(s_reader_t *r, s_ids_t *ids, Touchpoint__V1__Envelope *env,
                   Touchpoint__V1__ContractingStep *st) {
    touchpoint__v1__contracting_step__init(st);
    st->contract_id = s_id(ids->a, "K-", s_u8(r), 5);
    st->hcp_id = s_id(ids->b, "H-", s_u8(r), 4);
    st->rep_id = s_id(ids->c, "R-", s_u8(r), 5);
    uint8_t x = s_u8(r);
    st->contract_type = (Touchpoint__V1__ContractType)(x % 6);
    st->state = (Touchpoint__V1__StepState)(((x >> 3) & 3) + 1);
    st->hcp_action = (x >> 5) & 1;
    st->case_closed = (x >> 6) & 1;
    /* Steps: the usual names, or one of 40 numbered ones (so a contract
     * can reach TP_CASE_MAX_STEPS distinct steps), or a long id. */
    uint8_t s = s_u8(r);
    if (s < 0x80)
        st->step = (char *)s_steps[s % 7];
    else if (s < 0xF0) {
        snprintf(ids->d, sizeof ids->d, "STEP-%u", s % 40);
        st->step = ids->d;
    } else {
        st->step = s_id(ids->d, "STEP-", (uint8_t)(14 + (s & 1)), 1);
    }
    st->owner_id = s_id(ids->e, "O-", s_u8(r), 6);
    st->at_ms = env->occurred_at_ms;
    env->payload_case = TOUCHPOINT__V1__ENVELOPE__PAYLOAD_CONTRACTING;
    env->contracting = st;
}

static void s_feedback(s_gen_t *g, s_reader_t *r, s_ids_t *ids, Touchpoint__V1__Envelope *env,
                       Touchpoint__V1__Feedback *fb) {
    static const char long_comment[] =
        "Too many visits, none of them useful; the samples take weeks and nobody calls back. "
        "\xC3\x9C"
        "berhaupt nicht hilfreich. Trop de visites, aucune utile. Demasiadas visitas, "
        "ninguna \xC3\xBAtil. Troppe visite. Zu viele Besuche, keiner n\xC3\xBCtzlich, wirklich.";
    touchpoint__v1__feedback__init(fb);
    snprintf(ids->feedback_id, sizeof ids->feedback_id, "F-%u", g->n);
    fb->feedback_id = ids->feedback_id;
    fb->hcp_id = s_id(ids->b, "H-", s_u8(r), 4);
    uint8_t x = s_u8(r);
    fb->subject_type = (char *)s_subject_types[x & 3];
    uint8_t subj = s_u8(r);
    if ((x & 3) == 1)
        fb->subject_id = s_id(ids->a, "C-", subj, 6);
    else if ((x & 3) == 2)
        fb->subject_id = s_id(ids->a, "K-", subj, 5);
    uint8_t nps = s_u8(r), effort = s_u8(r);
    if (nps & 0x80) {
        fb->nps_value_case = TOUCHPOINT__V1__FEEDBACK__NPS_VALUE_NPS;
        fb->nps = (nps & 0x7F) % 11;
    }
    if (effort & 0x80) {
        fb->effort_score_value_case = TOUCHPOINT__V1__FEEDBACK__EFFORT_SCORE_VALUE_EFFORT_SCORE;
        fb->effort_score = (effort & 0x7F) % 10 + 1;
    }
    fb->preferred_channel = (Touchpoint__V1__Channel)((x >> 2) % 7);
    fb->comment = (x & 0x40) ? (char *)long_comment : (x & 0x20) ? "Fine." : "";
    fb->at_ms = env->occurred_at_ms;
    env->payload_case = TOUCHPOINT__V1__ENVELOPE__PAYLOAD_FEEDBACK;
    env->feedback = fb;
}

/* One structured record: builds the event and sends it. */
static int s_structured(tp_engine_t *e, s_gen_t *g, uint8_t op, const uint8_t *p, size_t n) {
    s_reader_t                      r = { p, n };
    s_ids_t                         ids;
    Touchpoint__V1__Envelope        env;
    Touchpoint__V1__CallLogged      call;
    Touchpoint__V1__ContractingStep step;
    Touchpoint__V1__Feedback        fb;
    Touchpoint__V1__Watermark       wm;
    touchpoint__v1__envelope__init(&env);
    s_envelope(g, &r, &ids, &env);
    switch (op & 3) {
    case TP_FUZZ_OP_CALL: s_call(&r, &ids, &env, &call); break;
    case TP_FUZZ_OP_CONTRACTING: s_step(&r, &ids, &env, &step); break;
    case TP_FUZZ_OP_FEEDBACK: s_feedback(g, &r, &ids, &env, &fb); break;
    default:
        touchpoint__v1__watermark__init(&wm);
        unsigned dt = s_u16(&r);
        wm.now_ms = dt == 0xFFFF || env.occurred_at_ms > INT64_MAX - 0xFFFF * 5 * MINUTE
                        ? INT64_MAX
                        : env.occurred_at_ms + (int64_t)dt * 5 * MINUTE;
        env.payload_case = TOUCHPOINT__V1__ENVELOPE__PAYLOAD_WATERMARK;
        env.watermark = &wm;
        break;
    }
    if (op & 4)
        return tp_engine_handle_envelope(e, &env);
    size_t   len = touchpoint__v1__envelope__get_packed_size(&env);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf)
        return -ENOMEM;
    touchpoint__v1__envelope__pack(&env, buf);
    const char *topic = tp_topic_for_payload(env.payload_case);
    tp_frame_t  frames[2] = { { topic, strlen(topic) }, { buf, len } };
    int         rc = tp_engine_handle(e, frames, 2);
    free(buf);
    return rc;
}

/* ---- raw records ------------------------------------------------------- */

static void s_queries(tp_engine_t *e) {
    char buf[512];
    tp_engine_fire_due(e);
    (void)tp_engine_next_deadline(e);
    (void)tp_engine_deadlines(e);
    (void)tp_engine_open_alerts(e);
    (void)tp_engine_calls(e);
    (void)tp_engine_cases(e);
    tp_engine_describe_rules(e, buf, sizeof buf);
    tp_stats_format(tp_engine_stats(e), buf, sizeof buf);
}

static int s_raw(tp_engine_t *e, uint8_t op, const uint8_t *p, size_t n) {
    static const char *const topics[] = { "crm.call", "crm.contracting", "crm.feedback",
                                          "crm.watermark", "crm.unknown" };
    char                     why[256], id[TP_ID_MAX + 1];
    switch (op & 7) {
    case TP_FUZZ_OP_BAD_FRAMES: {
        tp_frame_t frames[3] = { { p, n }, { p, n }, { p, n } };
        return tp_engine_handle(e, frames, (op & 8) ? 3 : 1);
    }
    case TP_FUZZ_OP_FIRE_DUE: s_queries(e); return TP_ACCEPTED;
    case TP_FUZZ_OP_ENVELOPE: {
        Touchpoint__V1__Envelope *env = touchpoint__v1__envelope__unpack(NULL, n, p);
        if (!env)
            return TP_REFUSED;
        int rc = tp_engine_handle_envelope(e, env);
        touchpoint__v1__envelope__free_unpacked(env, NULL);
        return rc;
    }
    default: {
        const char *topic = topics[op & 7];
        tp_frame_t  frames[2] = { { topic, strlen(topic) }, { p, n } };
        int         rc = tp_engine_handle_why(e, frames, 2, why, sizeof why, id, sizeof id);
        if (memchr(id, '\0', sizeof id) == NULL)
            tp_fuzz_fail("event id not NUL-terminated");
        if (rc == TP_REFUSED && memchr(why, '\0', sizeof why) == NULL)
            tp_fuzz_fail("refusal reason not NUL-terminated");
        return rc;
    }
    }
}

/* ---- the run ------------------------------------------------------------ */

void tp_fuzz_drive(tp_engine_t *e, const uint8_t *data, size_t size) {
    s_sink_t sink = { 0 };
    s_gen_t  gen = { .cursor_ms = T0 };
    tp_engine_set_sink(e, s_sink_cb, &sink);

    while (size >= 3) {
        uint8_t op = data[0];
        size_t  len = (size_t)data[1] << 8 | data[2];
        data += 3;
        size -= 3;
        if (len > size)
            len = size;
        int rc = (op & TP_FUZZ_OP_STRUCTURED) ? s_structured(e, &gen, op, data, len)
                                              : s_raw(e, op, data, len);
        if (rc != TP_ACCEPTED && rc != TP_REFUSED && rc != TP_DUPLICATE)
            tp_fuzz_fail("record op 0x%02x: engine returned %d", op, rc);
        data += len;
        size -= len;
    }

    /* Fire every deadline left: the rules' deadline paths run on every input. */
    int64_t now = tp_clock_now(tp_engine_clock(e));
    if (now < INT64_MAX - FLUSH_MS) {
        Touchpoint__V1__Watermark wm = TOUCHPOINT__V1__WATERMARK__INIT;
        Touchpoint__V1__Envelope  env = TOUCHPOINT__V1__ENVELOPE__INIT;
        wm.now_ms = now + FLUSH_MS;
        env.event_id = "fuzz-flush";
        env.source = "fuzz";
        env.occurred_at_ms = wm.now_ms;
        env.payload_case = TOUCHPOINT__V1__ENVELOPE__PAYLOAD_WATERMARK;
        env.watermark = &wm;
        int rc = tp_engine_handle_envelope(e, &env);
        if (rc < 0)
            tp_fuzz_fail("flush watermark: engine returned %d", rc);
        s_queries(e);
    }

    const tp_stats_t *st = tp_engine_stats(e);
    if (st->received != st->accepted + st->duplicates + tp_stats_bad_total(st))
        tp_fuzz_fail("received %" PRIu64 " != accepted %" PRIu64 " + duplicates %" PRIu64
                     " + bad %" PRIu64,
                     st->received, st->accepted, st->duplicates, tp_stats_bad_total(st));
    if (st->alerts_firing + st->alerts_resolved != sink.n)
        tp_fuzz_fail("%" PRIu64 " alerts counted, %" PRIu64 " reached the sink",
                     st->alerts_firing + st->alerts_resolved, sink.n);
    if (tp_engine_open_alerts(e) > st->alerts_firing)
        tp_fuzz_fail("%zu open alerts but only %" PRIu64 " fired", tp_engine_open_alerts(e),
                     st->alerts_firing);
}
