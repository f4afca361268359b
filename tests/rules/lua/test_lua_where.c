/* test_lua_where — the filter a Lua rule declares (`where`), checked by C
 * before any Lua runs: a value or a list of values per field path, enums
 * by short name (or full), strings, integers; an event without the message
 * a path goes through is rejected, an unset string reads ""; the file's
 * chunk gets the rule's config so a filter can depend on it; a bad filter
 * is a load error naming the file and the key. The rule under test, t,
 * fires on every event it is called with and counts its calls: an event
 * the filter rejects must neither fire nor be a call. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <errno.h>

#include "tp_lua_rules.h"
#include "tp_lua_test.h"
#include "tp_testengine.h"

#define SUBMITTED TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_SUBMITTED
#define PLANNED   TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_PLANNED
#define PHONE     TOUCHPOINT__V1__CHANNEL__CHANNEL_PHONE
#define VIDEO     TOUCHPOINT__V1__CHANNEL__CHANNEL_VIDEO

static int s_setup(void **state) {
    (void)state;
    tp_lua_test_mkdir("tp-lua-where");
    return 0;
}

static int s_teardown(void **state) {
    (void)state;
    return tp_lua_test_rmdir();
}

/* Writes t.lua: `head`, then the rule table with `where` (a Lua
 * expression), firing on every event it is called with. Returns the YAML
 * running it with `config` (a YAML flow map, or NULL). Caller frees. */
static char *s_rule(const char *head, const char *where, const char *config) {
    char path[128], *yaml;
    snprintf(path, sizeof path, "%s/t.lua", tp_lua_test_dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f,
            "%s\nreturn { name = 't', kind = 'friction', events = { 'call', 'feedback' },\n"
            "  where = %s,\n"
            "  on_event = function(ev, ctx)\n"
            "    ctx:fire{ subject = 'ev/' .. ev.event_id, summary = 's' }\n"
            "  end }\n",
            head, where);
    fclose(f);
    assert_true(asprintf(&yaml, "clock: event\nlua_rules:\n  - { file: %s%s%s }\n", path,
                         config ? ", config: " : "", config ? config : "") > 0);
    return yaml;
}

static tp_fixture_t *s_fixture(const char *head, const char *where, const char *config) {
    char         *yaml = s_rule(head, where, config);
    tp_fixture_t *f = tp_fixture_only(yaml, "negative_feedback", NULL);
    free(yaml);
    return f;
}

/* The events t fired on, "e1,e4", and how many calls it had. */
static const char *s_fired(tp_fixture_t *f, uint64_t *ret_calls) {
    static char out[256];
    out[0] = 0;
    for (size_t i = 0; i < f->got.n; i++)
        if (!strncmp(f->got.alerts[i]->alert_id, "t:ev/", 5))
            snprintf(out + strlen(out), sizeof out - strlen(out), "%s%s", out[0] ? "," : "",
                     f->got.alerts[i]->alert_id + 5);
    *ret_calls = tp_lua_test_stats(f, "t").calls;
    return out;
}

static void s_call(tp_fixture_t *f, const char *id, int status, int channel, const char *rep) {
    TP_CALL(f, .event_id = id, .at_ms = TP_T0, .call_id = id, .status = status, .channel = channel,
            .rep_id = rep);
}

/* Every condition must pass; a list passes on any of its values. */
static void test_where_values(void **state) {
    (void)state;
    tp_fixture_t *f = s_fixture("",
                                "{ ['call.status'] = 'SUBMITTED',"
                                "  ['call.channel'] = { 'IN_PERSON', 'VIDEO' },"
                                "  ['call.rep_id'] = 'REP-1' }",
                                NULL);
    s_call(f, "e1", SUBMITTED, 0, "REP-1");
    s_call(f, "e2", PLANNED, 0, "REP-1");
    s_call(f, "e3", SUBMITTED, PHONE, "REP-1");
    s_call(f, "e4", SUBMITTED, VIDEO, "REP-1");
    s_call(f, "e5", SUBMITTED, 0, "REP-2");
    uint64_t calls;
    assert_string_equal(s_fired(f, &calls), "e1,e4");
    assert_int_equal(calls, 2); /* the others never entered Lua */
    tp_fixture_free(f);
}

/* A path through a message the event lacks (call.* of a feedback,
 * feedback.* of a call) rejects it, so does a oneof member not given
 * (nps); an unset string reads "" as ev does. Integers compare. */
static void test_where_absent_and_integers(void **state) {
    (void)state;
    tp_fixture_t *f =
        s_fixture("", "{ ['feedback.nps'] = { 9, 10 }, ['feedback.comment'] = '' }", NULL);
    s_call(f, "e1", SUBMITTED, 0, "REP-1");
    static const struct {
        const char *id;
        int         nps;
        const char *comment;
    } fb[] = { { "e2", 10, NULL },
               { "e3", -1, NULL },
               { "e4", 3, NULL },
               { "e5", 9, "great" },
               { "e6", 9, NULL } };
    for (size_t i = 0; i < sizeof fb / sizeof fb[0]; i++)
        assert_int_equal(tp_fixture_feedback(f, &(tp_test_feedback_t){ .event_id = fb[i].id,
                                                                       .at_ms = TP_T0 + 1,
                                                                       .nps = fb[i].nps,
                                                                       .effort = -1,
                                                                       .comment = fb[i].comment }),
                         TP_ACCEPTED);
    uint64_t calls;
    assert_string_equal(s_fired(f, &calls), "e2,e6");
    assert_int_equal(calls, 2);
    tp_fixture_free(f);
}

/* The chunk is called with the rule's config, so a filter can come from
 * it; an enum's full name is accepted too. */
static void test_where_from_config(void **state) {
    (void)state;
    tp_fixture_t *f = s_fixture("local config = ...",
                                "{ ['call.channel'] = config.channels,"
                                "  ['call.status'] = 'CALL_STATUS_SUBMITTED' }",
                                "{ channels: [PHONE, VIDEO] }");
    s_call(f, "e1", SUBMITTED, 0, "REP-1");
    s_call(f, "e2", SUBMITTED, PHONE, "REP-1");
    s_call(f, "e3", PLANNED, PHONE, "REP-1");
    s_call(f, "e4", SUBMITTED, VIDEO, "REP-1");
    uint64_t calls;
    assert_string_equal(s_fired(f, &calls), "e2,e4");
    tp_fixture_free(f);
}

/* A filter that could only be a mistake is a load error naming the file
 * and the key: it would otherwise reject every event, silently. */
static void test_where_checked_at_load(void **state) {
    (void)state;
    static const struct {
        const char *where, *says;
    } bad[] = {
        { "{ ['call.stauts'] = 'SUBMITTED' }",
          "where[\"call.stauts\"]: \"call.stauts\" is not a field of the Envelope" },
        { "{ ['call.status'] = 'SUBMITED' }",
          "where[\"call.status\"]: \"SUBMITED\" is not a value of CallStatus" },
        { "{ ['call.status'] = 2 }", "enum is compared with names (strings), not number" },
        { "{ ['call.rep_id'] = 7 }", "where[\"call.rep_id\"]: a string field is not compared" },
        { "{ ['feedback.nps'] = '9' }", "an integer field is not compared with a string" },
        { "{ ['feedback.nps'] = 9.5 }", "an integer field is not compared with a number" },
        { "{ ['call'] = 'x' }", "where[\"call\"]: only integers, bools, strings and enums" },
        { "{ ['call.products'] = 'x' }", "only integers, bools, strings and enums" },
        { "{ ['call.status'] = {} }", "an empty list would reject every event" },
        { "{ ['call.status'] = { 'SUBMITTED', {} } }", "not table" },
        { "{ 'call.status' }", "where: keys must be field paths" },
        { "{ ['contracting.step'] = 'X' }",
          "where[\"contracting.step\"]: the rule's events do not include contracting" },
        { "'call.status'", "where must be a map of field paths to values" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *yaml = s_rule("", bad[i].where, NULL);
        tp_lua_test_load_fails(yaml, "t.lua", bad[i].says, bad[i].where);
        free(yaml);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_where_values),
        cmocka_unit_test(test_where_absent_and_integers),
        cmocka_unit_test(test_where_from_config),
        cmocka_unit_test(test_where_checked_at_load),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
