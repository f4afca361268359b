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

#include "tp_rules.h"

static int64_t s_wall(void *ctx) {
    return ((tp_fixture_t *)ctx)->wall_ms;
}

tp_fixture_t *tp_fixture_new(const char *yaml) {
    tp_fixture_t *f = calloc(1, sizeof *f);
    char          err[256] = "";
    const char   *text = yaml ? yaml : "clock: event\n";
    int           r = tp_config_parse(text, strlen(text), "test.yaml", err, sizeof err, &f->cfg);
    if (r < 0)
        fail_msg("config: %s", err);
    assert_int_equal(tp_engine_new(f->cfg, &f->engine), 0);
    tp_engine_set_sink(f->engine, tp_test_sink, &f->got);
    f->wall_ms = TP_T0;
    tp_clock_set_wall(tp_engine_clock(f->engine), s_wall, f);
    return f;
}

void tp_fixture_reload(tp_fixture_t *f, const char *yaml) {
    tp_config_t *next;
    char         err[256] = "";
    if (tp_config_parse(yaml, strlen(yaml), "reload.yaml", err, sizeof err, &next) < 0)
        fail_msg("config: %s", err);
    if (tp_engine_reconfigure(f->engine, next, err, sizeof err) < 0)
        fail_msg("reload refused: %s", err);
    tp_config_destroy(&f->cfg);
    f->cfg = next;
}

void tp_fixture_free(tp_fixture_t *f) {
    tp_test_alerts_clear(&f->got);
    tp_engine_destroy(&f->engine);
    tp_config_destroy(&f->cfg);
    free(f);
}

static int s_send(tp_fixture_t *f, const char *topic, uint8_t *buf, size_t len) {
    tp_frame_t frames[2] = { { topic, strlen(topic) }, { buf, len } };
    int        r = tp_engine_handle(f->engine, frames, 2);
    free(buf);
    return r;
}

char *tp_fixture_only_yaml(const char *head, const char *rule, const char *settings) {
    bool   known = false;
    size_t len = strlen(head ? head : "clock: event\n") + sizeof "rules:\n";
    for (const tp_rule_t *const *r = tp_rule_registry(); *r; r++) {
        len += strlen((*r)->name) + sizeof "  : { enabled: false }\n";
        known |= strcmp((*r)->name, rule) == 0;
    }
    if (!known)
        fail_msg("no rule %s in the registry", rule);
    len += settings ? strlen(rule) + strlen(settings) + 8 : 0;
    char *yaml = malloc(len), *p = yaml;
    assert_non_null(yaml);
    p += sprintf(p, "%srules:\n", head ? head : "clock: event\n");
    for (const tp_rule_t *const *r = tp_rule_registry(); *r; r++)
        if (strcmp((*r)->name, rule) != 0)
            p += sprintf(p, "  %s: { enabled: false }\n", (*r)->name);
    if (settings)
        sprintf(p, "  %s: %s\n", rule, settings);
    return yaml;
}

tp_fixture_t *tp_fixture_only(const char *head, const char *rule, const char *settings) {
    char         *yaml = tp_fixture_only_yaml(head, rule, settings);
    tp_fixture_t *f = tp_fixture_new(yaml);
    free(yaml);
    return f;
}

#define S_OR(field) (c.field ? c.field : d->field)

int tp_fixture_call(tp_fixture_t *f, const tp_test_call_t *in) {
    const tp_test_call_t *d = &f->call_defaults;
    const tp_test_call_t  c = *in;
    const tp_test_call_t  m = {
         .event_id = c.event_id,
         .source = S_OR(source),
         .sequence = S_OR(sequence),
         .at_ms = S_OR(at_ms),
         .call_id = S_OR(call_id),
         .hcp_id = S_OR(hcp_id),
         .rep_id = S_OR(rep_id),
         .status = S_OR(status),
         .channel = S_OR(channel),
         .call_at_ms = S_OR(call_at_ms),
         .submitted_at_ms = S_OR(submitted_at_ms),
         .fields = S_OR(fields),
         .notes = S_OR(notes),
    };
    uint8_t *buf;
    size_t   len = tp_test_pack_call(&m, &buf);
    return s_send(f, "crm.call", buf, len);
}

int tp_fixture_feedback(tp_fixture_t *f, const tp_test_feedback_t *fb) {
    uint8_t *buf;
    size_t   len = tp_test_pack_feedback(fb, &buf);
    return s_send(f, "crm.feedback", buf, len);
}

void tp_fixture_feedbacks(tp_fixture_t *f, int64_t at_ms, const tp_test_feedback_t *fbs, size_t n) {
    for (size_t i = 0; i < n; i++) {
        tp_test_feedback_t fb = fbs[i];
        fb.at_ms = fb.at_ms ? fb.at_ms : at_ms;
        if (tp_fixture_feedback(f, &fb) != TP_ACCEPTED)
            fail_msg("feedback %s was not accepted", fb.event_id);
    }
}

int tp_fixture_step(tp_fixture_t *f, const tp_test_step_t *in) {
    const tp_test_step_t *d = &f->step_defaults;
    const tp_test_step_t  c = *in;
    const tp_test_step_t  m = {
         .event_id = c.event_id,
         .source = S_OR(source),
         .at_ms = S_OR(at_ms),
         .contract_id = S_OR(contract_id),
         .hcp_id = S_OR(hcp_id),
         .rep_id = S_OR(rep_id),
         .contract_type = S_OR(contract_type),
         .step = S_OR(step),
         .state = S_OR(state),
         .owner_id = S_OR(owner_id),
         .hcp_action = c.hcp_action || d->hcp_action,
         .case_closed = c.case_closed || d->case_closed,
    };
    uint8_t *buf;
    size_t   len = tp_test_pack_step(&m, &buf);
    return s_send(f, "crm.contracting", buf, len);
}

int tp_fixture_watermark(tp_fixture_t *f, int64_t now_ms) {
    static unsigned n;
    char            id[32];
    snprintf(id, sizeof id, "wm-%u", n++);
    uint8_t *buf;
    size_t   len = tp_test_pack_watermark(id, now_ms, &buf);
    return s_send(f, "crm.watermark", buf, len);
}

size_t tp_fixture_wall_tick(tp_fixture_t *f, int64_t wall_ms) {
    f->wall_ms = wall_ms;
    return tp_engine_fire_due(f->engine);
}

tp_fixture_t *tp_fixture_case(const char *head, const char *rule, const char *settings,
                              int contract_type) {
    tp_fixture_t *f = tp_fixture_only(head, rule, settings);
    f->step_defaults = (tp_test_step_t){
        .contract_id = "K-1", .hcp_id = "HCP-9", .rep_id = "REP-3", .contract_type = contract_type
    };
    return f;
}

int tp_fixture_step_at(tp_fixture_t *f, const char *event_id, int64_t at_ms, const char *step,
                       int state, const char *owner_id, bool case_closed) {
    return tp_fixture_step(f, &(tp_test_step_t){ .event_id = event_id,
                                                 .at_ms = at_ms,
                                                 .step = step,
                                                 .state = state,
                                                 .owner_id = owner_id,
                                                 .case_closed = case_closed });
}

const Touchpoint__V1__Alert *tp_expect(const tp_fixture_t *f, size_t i, int status,
                                       const char *alert_id) {
    if (i >= f->got.n)
        fail_msg("alert %zu expected, %zu captured", i, f->got.n);
    const Touchpoint__V1__Alert *a = f->got.alerts[i];
    assert_int_equal(a->status, status);
    if (alert_id)
        assert_string_equal(a->alert_id, alert_id);
    return a;
}

void tp_expect_edge(tp_fixture_t *f, int64_t at_ms, size_t n) {
    TP_WATERMARK(f, at_ms);
    if (f->got.n != n)
        fail_msg("at %lld: %zu alerts, expected %zu (the edge is later)", (long long)at_ms,
                 f->got.n, n);
    TP_WATERMARK(f, at_ms + 1);
    if (f->got.n != n + 1)
        fail_msg("at %lld + 1: %zu alerts, expected %zu", (long long)at_ms, f->got.n, n + 1);
}

void tp_expect_wall_edge(tp_fixture_t *w, tp_fixture_t *e, int64_t due_ms, size_t n) {
    assert_int_equal(tp_engine_next_deadline(w->engine), due_ms);
    assert_int_equal(tp_fixture_wall_tick(w, due_ms), 0);
    assert_int_equal(tp_fixture_wall_tick(w, due_ms + 250), n);
    TP_WATERMARK(e, due_ms + 250);
}

void tp_expect_detected(const tp_fixture_t *w, const tp_fixture_t *e, size_t i, int64_t wall_ms,
                        int64_t event_ms) {
    if (i >= w->got.n || i >= e->got.n)
        fail_msg("alert %zu expected, %zu (wall) and %zu (event) captured", i, w->got.n, e->got.n);
    assert_int_equal(w->got.alerts[i]->detected_at_ms, wall_ms);
    assert_int_equal(e->got.alerts[i]->detected_at_ms, event_ms);
}

const Touchpoint__V1__Alert *tp_expect_alert(const tp_fixture_t *f, size_t i,
                                             const tp_test_alert_want_t *want) {
    if (i >= f->got.n)
        fail_msg("alert %zu expected, %zu captured", i, f->got.n);
    const Touchpoint__V1__Alert *a = f->got.alerts[i];
    if (want->topic && strcmp(f->got.topics[i], want->topic) != 0)
        fail_msg("alert %zu: topic is \"%s\", expected \"%s\"", i, f->got.topics[i], want->topic);
    const char *diff = tp_test_alert_diff(a, want);
    if (diff[0])
        fail_msg("alert %zu: %s", i, diff);
    return a;
}

tp_fixture_t *tp_fixture_spec(const char *head, const tp_fixture_spec_t *spec) {
    if (spec->contract_type)
        return tp_fixture_case(head, spec->rule, spec->settings, spec->contract_type);
    tp_fixture_t *f = tp_fixture_only(head, spec->rule, spec->settings);
    if (spec->step)
        f->step_defaults = (tp_test_step_t){ .contract_id = "K-1", .step = spec->step };
    return f;
}

tp_fixture_t *tp_fixture_at_step(const char *head, const char *rule, const char *settings,
                                 const char *step) {
    return tp_fixture_spec(
        head, &(tp_fixture_spec_t){ .rule = rule, .settings = settings, .step = step });
}

int tp_fixture_setup(void **state) {
    *state = tp_fixture_spec(NULL, *state);
    return 0;
}

int tp_fixture_teardown(void **state) {
    tp_fixture_free(*state);
    return 0;
}

int tp_twin_setup(void **state) {
    const tp_fixture_spec_t *spec = *state;
    tp_twin_t               *t = calloc(1, sizeof *t);
    assert_non_null(t);
    t->w = t->both[0] = tp_fixture_spec("clock: wall\n", spec);
    t->e = t->both[1] = tp_fixture_spec(NULL, spec);
    *state = t;
    return 0;
}

int tp_twin_teardown(void **state) {
    tp_twin_t *t = *state;
    tp_fixture_free(t->w);
    tp_fixture_free(t->e);
    free(t);
    return 0;
}

const Touchpoint__V1__Alert *tp_expect_resolved(const tp_fixture_t *f, size_t i,
                                                const char *resolution) {
    const Touchpoint__V1__Alert *a = tp_expect(f, i, TP_RESOLVED, NULL);
    const char                  *got = tp_test_evidence(a, "resolution");
    assert_non_null(got);
    assert_string_equal(got, resolution);
    return a;
}

const Touchpoint__V1__Alert *tp_fixture_find(const tp_fixture_t *f, const char *alert_id) {
    for (size_t i = 0; i < f->got.n; i++)
        if (strcmp(f->got.alerts[i]->alert_id, alert_id) == 0)
            return f->got.alerts[i];
    fail_msg("no alert %s", alert_id);
    return NULL;
}

bool tp_fixture_has(const tp_fixture_t *f, const char *alert_id) {
    for (size_t i = 0; i < f->got.n; i++)
        if (strcmp(f->got.alerts[i]->alert_id, alert_id) == 0)
            return true;
    return false;
}

void tp_expect_same_alerts(const tp_fixture_t *w, const tp_fixture_t *e, size_t n, bool summary,
                           const char *key) {
    assert_int_equal(w->got.n, n);
    assert_int_equal(e->got.n, n);
    for (size_t i = 0; i < n; i++) {
        const Touchpoint__V1__Alert *a = w->got.alerts[i], *b = e->got.alerts[i];
        assert_string_equal(a->alert_id, b->alert_id);
        assert_int_equal(a->status, b->status);
        if (summary)
            assert_string_equal(a->summary, b->summary);
        assert_int_equal(a->n_evidence, b->n_evidence);
        if (key) {
            assert_non_null(tp_test_evidence(a, key));
            assert_non_null(tp_test_evidence(b, key));
            assert_string_equal(tp_test_evidence(a, key), tp_test_evidence(b, key));
        }
    }
}
