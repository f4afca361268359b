/* tp_testmsg — see tp_testmsg.h. */
#include "tp_testmsg.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tp_config.h"

size_t tp_test_pack_envelope(const Touchpoint__V1__Envelope *env, uint8_t **ret) {
    size_t len = touchpoint__v1__envelope__get_packed_size(env);
    *ret = malloc(len ? len : 1);
    touchpoint__v1__envelope__pack(env, *ret);
    return len;
}

/* An Envelope's header; the caller sets its one payload and packs it. */
static Touchpoint__V1__Envelope s_env(const char *event_id, const char *source, int64_t at_ms,
                                      Touchpoint__V1__Envelope__PayloadCase payload) {
    Touchpoint__V1__Envelope env;
    touchpoint__v1__envelope__init(&env);
    env.event_id = (char *)event_id;
    env.source = (char *)source;
    env.occurred_at_ms = at_ms;
    env.payload_case = payload;
    return env;
}

size_t tp_test_pack_call(const tp_test_call_t *c, uint8_t **ret) {
    static char               *products[] = { "Cardiozan" };
    static char               *topics[] = { "efficacy" };
    static char               *attendees[] = { "Dr. Who" };
    Touchpoint__V1__CallLogged call;
    touchpoint__v1__call_logged__init(&call);
    call.call_id = (char *)c->call_id;
    call.hcp_id = (char *)(c->hcp_id ? c->hcp_id : "HCP-1");
    call.rep_id = (char *)(c->rep_id ? c->rep_id : "REP-1");
    call.account_id = (char *)((c->fields & TP_FIELD_ACCOUNT_ID) ? "ACC-1" : "");
    call.territory = (char *)((c->fields & TP_FIELD_TERRITORY) ? "T-1" : "");
    call.channel = c->channel ? (Touchpoint__V1__Channel)c->channel
                              : TOUCHPOINT__V1__CHANNEL__CHANNEL_IN_PERSON;
    call.status = (Touchpoint__V1__CallStatus)c->status;
    call.call_at_ms = c->call_at_ms ? c->call_at_ms : c->at_ms;
    if (c->status == TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_SUBMITTED)
        call.submitted_at_ms = c->submitted_at_ms < 0 ? 0
                               : c->submitted_at_ms   ? c->submitted_at_ms
                                                      : c->at_ms;
    if (c->fields & TP_FIELD_PRODUCTS) {
        call.n_products = 1;
        call.products = products;
    }
    if (c->fields & TP_FIELD_TOPICS) {
        call.n_topics = 1;
        call.topics = topics;
    }
    if (c->fields & TP_FIELD_ATTENDEES) {
        call.n_attendees = 1;
        call.attendees = attendees;
    }
    if (c->fields & TP_FIELD_NOTES)
        call.notes = "Discussed the new dosing.";
    if (c->notes)
        call.notes = (char *)c->notes;
    if (c->fields & TP_FIELD_NEXT_STEP)
        call.next_step = "Send the study reprint.";

    Touchpoint__V1__Envelope env = s_env(c->event_id, c->source ? c->source : "test", c->at_ms,
                                         TOUCHPOINT__V1__ENVELOPE__PAYLOAD_CALL);
    env.sequence = c->sequence;
    env.call = &call;
    return tp_test_pack_envelope(&env, ret);
}

int tp_test_alerts_add(tp_test_alerts_t *a, const char *topic, size_t topic_len, const uint8_t *buf,
                       size_t len) {
    if (a->n >= TP_TEST_MAX_ALERTS)
        return -ENOSPC;
    Touchpoint__V1__Alert *copy = touchpoint__v1__alert__unpack(NULL, len, buf);
    if (!copy)
        return -EINVAL;
    size_t tn = topic_len < sizeof a->topics[0] - 1 ? topic_len : sizeof a->topics[0] - 1;
    memcpy(a->topics[a->n], topic, tn);
    a->topics[a->n][tn] = '\0';
    a->alerts[a->n++] = copy;
    return 0;
}

int tp_test_sink(void *ctx, const char *topic, const uint8_t *buf, size_t len,
                 const Touchpoint__V1__Alert *alert) {
    (void)alert;
    return tp_test_alerts_add(ctx, topic, strlen(topic), buf, len);
}

void tp_test_alerts_clear(tp_test_alerts_t *a) {
    for (size_t i = 0; i < a->n; i++)
        touchpoint__v1__alert__free_unpacked(a->alerts[i], NULL);
    a->n = 0;
}

const char *tp_test_evidence(const Touchpoint__V1__Alert *a, const char *key) {
    for (size_t i = 0; i < a->n_evidence; i++)
        if (strcmp(a->evidence[i]->key, key) == 0)
            return a->evidence[i]->value;
    return NULL;
}

static char s_diff[512];

const char *tp_test_evidence_diff(const Touchpoint__V1__Alert *a, const tp_test_kv_t *kv) {
    s_diff[0] = '\0';
    for (; !s_diff[0] && kv->key; kv++) {
        const char *got = tp_test_evidence(a, kv->key);
        if (!got != !kv->value || (got && strcmp(got, kv->value) != 0))
            snprintf(s_diff, sizeof s_diff, "%s: evidence %s: got %s%s%s, want %s%s%s", a->alert_id,
                     kv->key, got ? "\"" : "", got ? got : "none", got ? "\"" : "",
                     kv->value ? "\"" : "", kv->value ? kv->value : "none", kv->value ? "\"" : "");
    }
    return s_diff;
}

const char *tp_test_evidence_pairs_diff(const Touchpoint__V1__Alert *a, const char *const *kv) {
    s_diff[0] = '\0';
    for (; !s_diff[0] && kv[0] && kv[1]; kv += 2)
        tp_test_evidence_diff(a, (const tp_test_kv_t[]){ { kv[0], kv[1] }, { NULL, NULL } });
    return s_diff;
}

const char *tp_test_alert_diff(const Touchpoint__V1__Alert *a, const tp_test_alert_want_t *want) {
    const struct {
        const char *name, *got, *want;
    } strs[] = {
        { "alert_id", a->alert_id, want->alert_id },
        { "rule", a->rule, want->rule },
        { "call_id", a->call_id, want->call_id },
        { "contract_id", a->contract_id, want->contract_id },
        { "step", a->step, want->step },
        { "hcp_id", a->hcp_id, want->hcp_id },
        { "rep_id", a->rep_id, want->rep_id },
        { "account_id", a->account_id, want->account_id },
        { "territory", a->territory, want->territory },
    };
    const struct {
        const char *name;
        int64_t     got, want;
    } ints[] = {
        { "kind", a->kind, want->kind },
        { "status", a->status, want->status },
        { "severity", a->severity, want->severity },
        { "detected_at_ms", a->detected_at_ms, want->detected_at_ms },
    };
    s_diff[0] = '\0';
    for (size_t i = 0; !s_diff[0] && i < sizeof strs / sizeof *strs; i++)
        if (strs[i].want && strcmp(strs[i].got, strs[i].want) != 0)
            snprintf(s_diff, sizeof s_diff, "%s: got \"%s\", want \"%s\"", strs[i].name,
                     strs[i].got, strs[i].want);
    for (size_t i = 0; !s_diff[0] && i < sizeof ints / sizeof *ints; i++)
        if (ints[i].want && ints[i].got != ints[i].want)
            snprintf(s_diff, sizeof s_diff, "%s: got %lld, want %lld", ints[i].name,
                     (long long)ints[i].got, (long long)ints[i].want);
    size_t n = 0;
    for (; !s_diff[0] && n < sizeof want->event_ids / sizeof *want->event_ids && want->event_ids[n];
         n++)
        if (n >= a->n_event_ids || strcmp(a->event_ids[n], want->event_ids[n]) != 0)
            snprintf(s_diff, sizeof s_diff, "event_ids[%zu]: got %s, want \"%s\"", n,
                     n < a->n_event_ids ? a->event_ids[n] : "none", want->event_ids[n]);
    if (!s_diff[0] && want->no_event_ids && a->n_event_ids)
        snprintf(s_diff, sizeof s_diff, "n_event_ids: got %zu, want 0", a->n_event_ids);
    if (!s_diff[0] && n && a->n_event_ids != n)
        snprintf(s_diff, sizeof s_diff, "n_event_ids: got %zu, want %zu", a->n_event_ids, n);
    for (size_t k = 0; !s_diff[0] && k < sizeof want->summary_has / sizeof *want->summary_has; k++)
        if (want->summary_has[k] && !strstr(a->summary, want->summary_has[k]))
            snprintf(s_diff, sizeof s_diff, "summary \"%s\" lacks \"%s\"", a->summary,
                     want->summary_has[k]);
    return s_diff[0] ? s_diff : tp_test_evidence_diff(a, want->evidence);
}

size_t tp_test_pack_feedback(const tp_test_feedback_t *f, uint8_t **ret) {
    Touchpoint__V1__Feedback fb;
    touchpoint__v1__feedback__init(&fb);
    fb.feedback_id = (char *)(f->feedback_id ? f->feedback_id : f->event_id);
    fb.hcp_id = (char *)(f->hcp_id ? f->hcp_id : "HCP-1");
    fb.subject_type = (char *)(f->subject_type ? f->subject_type : "general");
    fb.subject_id = (char *)(f->subject_id ? f->subject_id : "");
    if (f->nps >= 0) {
        fb.nps_value_case = TOUCHPOINT__V1__FEEDBACK__NPS_VALUE_NPS;
        fb.nps = f->nps;
    }
    if (f->effort >= 0) {
        fb.effort_score_value_case = TOUCHPOINT__V1__FEEDBACK__EFFORT_SCORE_VALUE_EFFORT_SCORE;
        fb.effort_score = f->effort;
    }
    fb.comment = (char *)(f->comment ? f->comment : "");
    fb.preferred_channel = (Touchpoint__V1__Channel)f->preferred_channel;
    fb.at_ms = f->at_ms;
    Touchpoint__V1__Envelope env = s_env(f->event_id, f->source ? f->source : "survey", f->at_ms,
                                         TOUCHPOINT__V1__ENVELOPE__PAYLOAD_FEEDBACK);
    env.feedback = &fb;
    return tp_test_pack_envelope(&env, ret);
}

size_t tp_test_pack_watermark(const char *event_id, int64_t now_ms, uint8_t **ret) {
    Touchpoint__V1__Watermark wm;
    touchpoint__v1__watermark__init(&wm);
    wm.now_ms = now_ms;
    Touchpoint__V1__Envelope env =
        s_env(event_id, "clock", now_ms, TOUCHPOINT__V1__ENVELOPE__PAYLOAD_WATERMARK);
    env.watermark = &wm;
    return tp_test_pack_envelope(&env, ret);
}

size_t tp_test_pack_step(const tp_test_step_t *s, uint8_t **ret) {
    Touchpoint__V1__ContractingStep st;
    touchpoint__v1__contracting_step__init(&st);
    st.contract_id = (char *)s->contract_id;
    st.hcp_id = (char *)(s->hcp_id ? s->hcp_id : "HCP-1");
    st.rep_id = (char *)(s->rep_id ? s->rep_id : "REP-1");
    st.contract_type = s->contract_type ? (Touchpoint__V1__ContractType)s->contract_type
                                        : TOUCHPOINT__V1__CONTRACT_TYPE__CONTRACT_TYPE_SPEAKER;
    st.step = (char *)s->step;
    st.state = (Touchpoint__V1__StepState)s->state;
    st.owner_id = (char *)(s->owner_id ? s->owner_id : "OWN-1");
    st.hcp_action = s->hcp_action;
    st.at_ms = s->at_ms;
    st.case_closed = s->case_closed;
    Touchpoint__V1__Envelope env = s_env(s->event_id, s->source ? s->source : "contracts", s->at_ms,
                                         TOUCHPOINT__V1__ENVELOPE__PAYLOAD_CONTRACTING);
    env.contracting = &st;
    return tp_test_pack_envelope(&env, ret);
}
