/* bench_mix — see bench_mix.h. */
#include "bench_mix.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tp_contract.h"

#define H (3600 * 1000LL)

static int s_pack(bench_frame_t *f, const char *topic, Touchpoint__V1__Envelope *e) {
    size_t len = touchpoint__v1__envelope__get_packed_size(e);
    f->buf = malloc(len ? len : 1);
    if (!f->buf)
        return -ENOMEM;
    f->len = touchpoint__v1__envelope__pack(e, f->buf);
    f->topic = topic;
    return 0;
}

static void s_env(Touchpoint__V1__Envelope *e, const char *id, const char *source, uint64_t seq,
                  int64_t at) {
    touchpoint__v1__envelope__init(e);
    e->event_id = (char *)id;
    e->source = (char *)source;
    e->sequence = seq;
    e->occurred_at_ms = at;
}

/* A call version. `data`: products, topics, notes, next_step (a complete
 * call); otherwise it carries none of them. */
typedef struct {
    const char *call_id, *hcp, *rep, *account, *territory;
    int         status, channel;
    int64_t     call_at;
    bool        data;
} s_call_t;

static int s_call(bench_frame_t *f, const char *id, uint64_t seq, int64_t at, const s_call_t *c) {
    static char *products[] = { "Cardiozan", "Nephrolix" }, *topics[] = { "renal subgroup" };
    static char *attendees[] = { "Dr. A. Brandt" };
    Touchpoint__V1__CallLogged call;
    touchpoint__v1__call_logged__init(&call);
    call.call_id = (char *)c->call_id;
    call.hcp_id = (char *)c->hcp;
    call.rep_id = (char *)c->rep;
    call.account_id = (char *)c->account;
    call.territory = (char *)c->territory;
    call.channel = (Touchpoint__V1__Channel)c->channel;
    call.status = (Touchpoint__V1__CallStatus)c->status;
    call.call_at_ms = c->call_at;
    if (c->status == TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_SUBMITTED)
        call.submitted_at_ms = at;
    if (c->data) {
        call.n_products = 2;
        call.products = products;
        call.n_topics = 1;
        call.topics = topics;
        call.n_attendees = 1;
        call.attendees = attendees;
        call.notes = "Discussed the renal subgroup data; asked for the dosing leaflet.";
        call.next_step = "Send the reprint and book a follow-up.";
    }
    Touchpoint__V1__Envelope e;
    s_env(&e, id, "veeva-eu", seq, at);
    e.payload_case = TOUCHPOINT__V1__ENVELOPE__PAYLOAD_CALL;
    e.call = &call;
    return s_pack(f, "crm.call", &e);
}

typedef struct {
    const char *contract, *hcp, *rep, *step, *owner;
    int         state;
    bool        ask, closed;
} s_step_t;

static int s_step(bench_frame_t *f, const char *id, uint64_t seq, int64_t at, const s_step_t *s) {
    Touchpoint__V1__ContractingStep st;
    touchpoint__v1__contracting_step__init(&st);
    st.contract_id = (char *)s->contract;
    st.hcp_id = (char *)s->hcp;
    st.rep_id = (char *)s->rep;
    st.contract_type = TOUCHPOINT__V1__CONTRACT_TYPE__CONTRACT_TYPE_SPEAKER;
    st.step = (char *)s->step;
    st.state = (Touchpoint__V1__StepState)s->state;
    st.owner_id = (char *)s->owner;
    st.hcp_action = s->ask;
    st.case_closed = s->closed;
    st.at_ms = at;
    Touchpoint__V1__Envelope e;
    s_env(&e, id, "veeva-contracts", seq, at);
    e.payload_case = TOUCHPOINT__V1__ENVELOPE__PAYLOAD_CONTRACTING;
    e.contracting = &st;
    return s_pack(f, "crm.contracting", &e);
}

static int s_feedback(bench_frame_t *f, const char *id, uint64_t seq, int64_t at, const char *hcp,
                      const char *subject_type, const char *subject_id, int nps) {
    Touchpoint__V1__Feedback fb;
    touchpoint__v1__feedback__init(&fb);
    fb.feedback_id = (char *)id;
    fb.hcp_id = (char *)hcp;
    fb.subject_type = (char *)subject_type;
    fb.subject_id = (char *)subject_id;
    fb.nps_value_case = TOUCHPOINT__V1__FEEDBACK__NPS_VALUE_NPS;
    fb.nps = nps;
    fb.comment = nps <= 6 ? "Too many forms for one talk." : "Helpful and on time.";
    fb.preferred_channel = TOUCHPOINT__V1__CHANNEL__CHANNEL_IN_PERSON;
    fb.at_ms = at;
    Touchpoint__V1__Envelope e;
    s_env(&e, id, "survey", seq, at);
    e.payload_case = TOUCHPOINT__V1__ENVELOPE__PAYLOAD_FEEDBACK;
    e.feedback = &fb;
    return s_pack(f, "crm.feedback", &e);
}

static int s_alloc(bench_frames_t *ret, size_t n) {
    ret->f = calloc(n ? n : 1, sizeof *ret->f);
    ret->n = 0;
    return ret->f ? 0 : -ENOMEM;
}

enum {
    PLANNED = TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_PLANNED,
    SAVED = TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_SAVED,
    SUBMITTED = TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_SUBMITTED,
    CANCELLED = TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_CANCELLED,
    STARTED = TOUCHPOINT__V1__STEP_STATE__STEP_STATE_STARTED,
    COMPLETED = TOUCHPOINT__V1__STEP_STATE__STEP_STATE_COMPLETED,
    RETURNED = TOUCHPOINT__V1__STEP_STATE__STEP_STATE_RETURNED,
    IN_PERSON = TOUCHPOINT__V1__CHANNEL__CHANNEL_IN_PERSON,
    PHONE = TOUCHPOINT__V1__CHANNEL__CHANNEL_PHONE,
    EMAIL = TOUCHPOINT__V1__CHANNEL__CHANNEL_EMAIL,
};

/* Event k (0..19) of cycle g. Call letters A..G are calls of this cycle,
 * K its contracting case. */
static int s_mix_event(bench_frame_t *f, const char *tag, size_t g, unsigned k, const char *id,
                       uint64_t seq, int64_t at) {
    char call[64], contract[64], hcp[32], rep[32], rep2[32], acc[32], terr[16];
    snprintf(hcp, sizeof hcp, "HCP-%05zu", (g * 7919) % 50000);
    snprintf(rep, sizeof rep, "REP-%04zu", g % 2000);
    snprintf(rep2, sizeof rep2, "REP-%04zu", (g + 1) % 2000);
    snprintf(acc, sizeof acc, "ACC-%04zu", (g * 7919) % 5000);
    snprintf(terr, sizeof terr, "DE-%02zu", g % 100);
    snprintf(contract, sizeof contract, "K-%s-%zu", tag, g);
    static const char letters[] = "AAABBCDDEFGG";
    if (k < 10 || k >= 19) { /* 20, 21: submitted calls H, I in place of the feedback */
        snprintf(call, sizeof call, "C-%s-%zu-%c", tag, g,
                 k >= 19 ? (char)('G' + k - 19) : letters[k]);
        /* Each call of the cycle: its status, whether it carries the
         * fields (data), when it took place relative to `at`, and where it
         * is not an in-person call by the cycle's rep, its channel and
         * whether the next rep made it. Event 19 is the last row. */
        static const struct {
            int     status;
            bool    data;
            int64_t call_at; /* at + this */
            int     channel; /* 0: IN_PERSON */
            bool    rep2;
        } calls[] = {
            { .status = PLANNED, .call_at = 2 * H },
            { .status = SAVED, .call_at = 2 * H },
            { .status = SUBMITTED, .data = true, .call_at = -2 * H },
            { .status = PLANNED, .call_at = 2 * H },
            { .status = SUBMITTED, .call_at = -H }, /* incomplete */
            { .status = SUBMITTED, .data = true, .call_at = -H, .channel = EMAIL, .rep2 = true },
            { .status = PLANNED, .call_at = 2 * H },
            { .status = CANCELLED, .call_at = 2 * H },
            { .status = SAVED, .call_at = -47 * H }, /* due in 1 h */
            { .status = SUBMITTED, .data = true, .call_at = -3 * H, .channel = PHONE },
            { .status = SUBMITTED, .data = true, .call_at = -H }, /* after the detractor */
        };
        const unsigned row = k >= 19 ? 10 : k;
        s_call_t       c = { .call_id = call,
                             .hcp = hcp,
                             .rep = calls[row].rep2 ? rep2 : rep,
                             .account = acc,
                             .territory = terr,
                             .status = calls[row].status,
                             .channel = calls[row].channel ? calls[row].channel : IN_PERSON,
                             .call_at = at + calls[row].call_at,
                             .data = calls[row].data };
        return s_call(f, id, seq, at, &c);
    }
    if (k < 17) {
        static const s_step_t steps[] = {
            { .step = "NOMINATION", .owner = "REP", .state = STARTED },
            { .step = "NOMINATION", .owner = "REP", .state = COMPLETED },
            { .step = "FMV_REVIEW", .owner = "FMV-11", .state = STARTED, .ask = true },
            { .step = "FMV_REVIEW", .owner = "FMV-11", .state = RETURNED, .ask = true },
            { .step = "FMV_REVIEW", .owner = "FMV-12", .state = COMPLETED },
            { .step = "CONTRACT_SENT", .owner = "LEGAL-2", .state = STARTED, .ask = true },
            { .step = "CONTRACT_SIGNED", .owner = "LEGAL-2", .state = COMPLETED, .closed = true },
        };
        s_step_t s = steps[k - 10];
        s.contract = contract;
        s.hcp = hcp;
        s.rep = rep;
        if (strcmp(s.owner, "REP") == 0)
            s.owner = rep;
        return s_step(f, id, seq, at, &s);
    }
    if (k == 17) {
        snprintf(call, sizeof call, "C-%s-%zu-A", tag, g);
        return s_feedback(f, id, seq, at, hcp, "call", call, 9);
    }
    return s_feedback(f, id, seq, at, hcp, "contract", contract, 3);
}

/* What the generators below are asked for. */
typedef struct {
    const char *tag;
    int64_t     t0;
    size_t      lat_every;
    size_t      first;  /* index of the first event made (its id and time) */
    size_t      period; /* the mix's subjects recur every `period` cycles (0: never) */
} s_gen_t;

/* Fills *ret with n frames, frame i made by make(); on failure none are
 * left (those made are freed). 0 or negative errno. */
static int s_generate(bench_frames_t *ret, size_t n, const s_gen_t *g,
                      int (*make)(bench_frame_t *f, size_t i, const char *id, const s_gen_t *g)) {
    int  r = s_alloc(ret, n);
    char id[64];
    for (size_t i = 0; r == 0 && i < n; i++) {
        snprintf(id, sizeof id, "%s-%zu", g->tag, g->first + i);
        r = make(&ret->f[i], g->first + i, id, g);
        ret->n = i + (r == 0);
    }
    if (r < 0)
        bench_frames_free(ret);
    return r;
}

static int s_mix_one(bench_frame_t *f, size_t i, const char *id, const s_gen_t *g) {
    int64_t at = g->t0 + (int64_t)i * BENCH_STEP_MS;
    if (g->lat_every && i % g->lat_every == g->lat_every - 1) {
        char call[64];
        snprintf(call, sizeof call, "LAT-%s-%zu", g->tag, i);
        s_call_t c = { .call_id = call,
                       .hcp = "HCP-LAT",
                       .rep = "REP-LAT",
                       .account = "ACC-LAT",
                       .territory = "DE-00",
                       .status = SUBMITTED,
                       .channel = IN_PERSON,
                       .call_at = at - H };
        return s_call(f, id, 0, at, &c);
    }
    return s_mix_event(f, g->tag, i / 20, (unsigned)(i % 20), id, 0, at);
}

int bench_mix(bench_frames_t *ret, size_t n, const char *tag, int64_t t0, size_t lat_every) {
    return s_generate(ret, n, &(s_gen_t){ .tag = tag, .t0 = t0, .lat_every = lat_every },
                      s_mix_one);
}

static int s_mix_part_one(bench_frame_t *f, size_t i, const char *id, const s_gen_t *g) {
    unsigned k = (unsigned)(i % 20);
    /* A feedback's alerts are named by its event id, which never comes
     * back: with a period, two more calls take its place. */
    if (g->period && (k == 17 || k == 18))
        k += 3;
    size_t cycle = g->period ? i / 20 % g->period : i / 20;
    return s_mix_event(f, g->tag, cycle, k, id, 0, g->t0 + (int64_t)i * BENCH_STEP_MS);
}

int bench_mix_part(bench_frames_t *ret, size_t first, size_t n, const char *tag, int64_t t0,
                   size_t period) {
    return s_generate(ret, n, &(s_gen_t){ .tag = tag, .t0 = t0, .first = first, .period = period },
                      s_mix_part_one);
}

static int s_open_call(bench_frame_t *f, size_t i, const char *id, const s_gen_t *g) {
    char call[64], hcp[32], rep[32], acc[32], terr[16];
    snprintf(call, sizeof call, "a0C7Q%s%08zuUAE", g->tag, i); /* Veeva-like 18 chars */
    snprintf(hcp, sizeof hcp, "HCP-%05zu", i % 50000);
    snprintf(rep, sizeof rep, "REP-%04zu", i % 2000);
    snprintf(acc, sizeof acc, "ACC-%04zu", i % 5000);
    snprintf(terr, sizeof terr, "DE-%02zu", i % 100);
    s_call_t c = { .call_id = call,
                   .hcp = hcp,
                   .rep = rep,
                   .account = acc,
                   .territory = terr,
                   .status = PLANNED,
                   .channel = IN_PERSON,
                   .call_at = g->t0 + 30 * 24 * H };
    return s_call(f, id, 0, g->t0 + (int64_t)(i / 1000), &c);
}

int bench_open_calls(bench_frames_t *ret, size_t n, const char *tag, int64_t t0) {
    return s_generate(ret, n, &(s_gen_t){ .tag = tag, .t0 = t0 }, s_open_call);
}

static int s_open_case(bench_frame_t *f, size_t i, const char *id, const s_gen_t *g) {
    char contract[64], hcp[32], rep[32];
    snprintf(contract, sizeof contract, "K-%s-%08zu", g->tag, i);
    snprintf(hcp, sizeof hcp, "HCP-%05zu", i % 50000);
    snprintf(rep, sizeof rep, "REP-%04zu", i % 2000);
    s_step_t s = { .contract = contract,
                   .hcp = hcp,
                   .rep = rep,
                   .step = "NOMINATION",
                   .owner = rep,
                   .state = STARTED };
    return s_step(f, id, 0, g->t0 + (int64_t)(i / 1000), &s);
}

int bench_open_cases(bench_frames_t *ret, size_t n, const char *tag, int64_t t0) {
    return s_generate(ret, n, &(s_gen_t){ .tag = tag, .t0 = t0 }, s_open_case);
}

int bench_marker(bench_frame_t *ret, const char *call_id, int64_t at) {
    s_call_t c = { .call_id = call_id,
                   .hcp = "HCP-MARK",
                   .rep = "REP-MARK",
                   .account = "",
                   .territory = "",
                   .status = SUBMITTED,
                   .channel = IN_PERSON,
                   .call_at = at };
    return s_call(ret, call_id, 0, at, &c);
}

void bench_frames_free(bench_frames_t *f) {
    for (size_t i = 0; i < f->n; i++)
        free(f->f[i].buf);
    free(f->f);
    *f = (bench_frames_t){ 0 };
}
