/* test_lua_api — what rules get beside ev and ctx's basics: the `text`
 * library (words, trim, normalize; bad arguments abandon the call; the
 * table is read-only), the `fields` a rule declares (handed to on_event
 * after ev and ctx, checked at load), ctx:is_firing with several subject
 * parts, and that what C pushes before a call cannot panic the state when
 * the rule is at its memory budget. Each rule runs in a real engine beside
 * "good" (which fires on every call): the engine goes on whatever it does. */
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

static int s_setup(void **state) {
    (void)state;
    tp_lua_test_mkdir("tp-lua-api");
    tp_lua_test_write("good.lua",
                      "return { name = 'good', kind = 'accountability', events = { 'call' },\n"
                      "  on_event = function(ev, ctx)\n"
                      "    ctx:fire{ subject = 'call/' .. ev.call.call_id, summary = 'seen' }\n"
                      "  end }\n");
    return 0;
}

static int s_teardown(void **state) {
    (void)state;
    return tp_lua_test_rmdir();
}

/* YAML config running t.lua (`head` before `on_event`, `body` in it, its
 * budget if not NULL), then good.lua. */
static char *s_yaml(const char *head, const char *body, const char *budget) {
    char text[8192], *yaml;
    snprintf(text, sizeof text,
             "%s\nreturn { name = 't', kind = 'friction', events = { 'call' },\n"
             "  on_event = function(ev, ctx, ...)\n%s\n  end }\n",
             head, body);
    tp_lua_test_write("t.lua", text);
    assert_true(asprintf(&yaml,
                         "clock: event\nlua_rules:\n  - { file: %s/t.lua%s%s }\n"
                         "  - { file: %s/good.lua }\n",
                         tp_lua_test_dir, budget ? ", budget: " : "", budget ? budget : "",
                         tp_lua_test_dir) > 0);
    return yaml;
}

static tp_fixture_t *s_fixture(const char *head, const char *body, const char *budget) {
    char         *yaml = s_yaml(head, body, budget);
    tp_fixture_t *f = tp_fixture_only(yaml, "negative_feedback", NULL);
    free(yaml);
    return f;
}

static void s_call(tp_fixture_t *f, const char *id, const char *notes) {
    TP_CALL(f, .event_id = id, .at_ms = TP_T0, .call_id = id, .status = SUBMITTED,
            .fields = TP_FIELD_NOTES | TP_FIELD_PRODUCTS, .notes = notes);
}

/* t's alert on the call `id`: its evidence holds what the body computed. */
static const Touchpoint__V1__Alert *s_alert(tp_fixture_t *f, const char *id) {
    char want[64];
    snprintf(want, sizeof want, "t:call/%s", id);
    for (size_t i = 0; i < f->got.n; i++)
        if (!strcmp(f->got.alerts[i]->alert_id, want))
            return f->got.alerts[i];
    fail_msg("no alert %s", want);
    return NULL;
}

/* One call (notes `notes`) into t, whose body ends by firing with
 * evidence `evidence` (a Lua table constructor); returns its alert. */
static const Touchpoint__V1__Alert *s_eval(tp_fixture_t **ret, const char *head, const char *notes,
                                           const char *evidence) {
    char body[4096];
    snprintf(body, sizeof body,
             "    ctx:fire{ subject = 'call/' .. ev.call.call_id, summary = 's', evidence = %s }",
             evidence);
    tp_fixture_t *f = *ret = s_fixture(head, body, NULL);
    s_call(f, "C-1", notes);
    assert_int_equal(tp_lua_test_stats(f, "t").errors[TP_LUA_ERR_ERROR], 0);
    return s_alert(f, "C-1");
}

static void test_text_words(void **state) {
    (void)state;
    tp_fixture_t                *f;
    const Touchpoint__V1__Alert *a =
        s_eval(&f, "local words = text.words", "  Discussed the\trenal\n subgroup data.  ",
               "{ all = words(ev.call.notes), five = words(ev.call.notes, 5),"
               "  two = words(ev.call.notes, 2), zero = words(ev.call.notes, 0),"
               "  empty = words(''), blank = words(' \\t\\n\\v\\f\\r '),"
               /* NUL and UTF-8 bytes are text, not spaces */
               "  nul = words('a\\0b c\\0'), utf8 = words('caf\\xc3\\xa9 \\xc2\\xa0 x'),"
               /* a huge string: counted in C, and limit stops the count early */
               "  huge = words(string.rep('w ', 1000000)), capped = words(string.rep('w ', "
               "1000000), 3) }");
    assert_string_equal(TP_TEST_EVIDENCE_DIFF(a, "all", "5", "five", "5", "two", "2", "zero", "0",
                                              "empty", "0", "blank", "0", "nul", "2", "utf8", "3",
                                              "huge", "1000000", "capped", "3"),
                        "");
    tp_fixture_free(f);
}

static void test_text_trim_and_normalize(void **state) {
    (void)state;
    tp_fixture_t                *f;
    const Touchpoint__V1__Alert *a =
        s_eval(&f, "local trim, normalize = text.trim, text.normalize", "  N/A \t",
               "{ trimmed = '[' .. trim(ev.call.notes) .. ']',"
               "  same = trim('x y') == 'x y', blank = '[' .. trim(' \\n ') .. ']',"
               "  norm = normalize(ev.call.notes), phrase = normalize(' No \\t\\n NOTES  '),"
               "  nul = #normalize(' A\\0B '), utf8 = normalize('\\xc3\\x89T\\xc3\\x89') }");
    assert_string_equal(TP_TEST_EVIDENCE_DIFF(a, "trimmed", "[N/A]", "same", "true", "blank", "[]",
                                              "norm", "n/a", "phrase", "no notes", "nul", "3",
                                              "utf8", "\xc3\x89t\xc3\x89"),
                        "");
    tp_fixture_free(f);
}

/* Runs body on two calls: t abandoned for `reason` both times, good fired. */
static void s_abandoned(const char *head, const char *body, const char *budget, const char *notes,
                        int reason) {
    tp_fixture_t *f = s_fixture(head, body, budget);
    s_call(f, "C-1", notes);
    s_call(f, "C-2", notes);
    tp_lua_rule_stats_t t = tp_lua_test_stats(f, "t");
    for (int r = 0; r < TP_LUA_ERR_COUNT; r++)
        if (t.errors[r] != (r == reason ? 2u : 0u))
            fail_msg("%s: errors[%s] = %llu (last: %s)", body, tp_lua_error_reason(r),
                     (unsigned long long)t.errors[r], t.last_error);
    tp_expect(f, 0, TP_FIRING, "good:call/C-1");
    tp_expect(f, 1, TP_FIRING, "good:call/C-2");
    assert_int_equal(f->got.n, 2);
    tp_fixture_free(f);
}

static void test_text_bad_arguments(void **state) {
    (void)state;
    static const char *const bad[] = {
        "text.words(42)",       "text.words(nil)",      "text.words('a b', -1)",
        "text.words('a', 'x')", "text.words('a', 1.5)", "text.trim({})",
        "text.trim()",          "text.normalize(true)", "text.normalize(ev)",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        s_abandoned("", bad[i], NULL, NULL, TP_LUA_ERR_BAD_ARGUMENT);
    /* read-only, like the globals */
    s_abandoned("", "text.words = nil", NULL, NULL, TP_LUA_ERR_ERROR);
    s_abandoned("", "text.mine = 1", NULL, NULL, TP_LUA_ERR_ERROR);
    s_abandoned("", "setmetatable(text, {})", NULL, NULL, TP_LUA_ERR_ERROR);
}

/* The declared fields come after ev and ctx, as ev would read them. */
static void test_declared_fields(void **state) {
    (void)state;
    tp_fixture_t *f;
    tp_lua_test_write("t.lua",
                      "return { name = 't', kind = 'friction', events = { 'call' },\n"
                      "  fields = { 'call.status', 'call.channel', 'call.notes', 'call.products',\n"
                      "             'call.call_id', 'call.call_at_ms', 'contracting.step',\n"
                      "             'feedback.nps' },\n"
                      "  on_event = function(ev, ctx, status, channel, notes, products, id, at,\n"
                      "                      step, nps)\n"
                      "    ctx:fire{ subject = 'call/' .. id, summary = 's', evidence = {\n"
                      "      status = status, channel = channel, notes = notes,\n"
                      "      products = #products, first = products[1], at = at,\n"
                      "      step = tostring(step), nps = tostring(nps),\n"
                      "      same = status == ev.call.status and notes == ev.call.notes } }\n"
                      "  end }\n");
    char *yaml;
    assert_true(
        asprintf(&yaml, "clock: event\nlua_rules:\n  - { file: %s/t.lua }\n", tp_lua_test_dir) > 0);
    f = tp_fixture_only(yaml, "negative_feedback", NULL);
    free(yaml);
    s_call(f, "C-7", "Reviewed the label");
    const Touchpoint__V1__Alert *a = s_alert(f, "C-7");
    char                         at[32];
    snprintf(at, sizeof at, "%lld", (long long)TP_T0);
    assert_string_equal(TP_TEST_EVIDENCE_DIFF(a, "status", "SUBMITTED", "channel", "IN_PERSON",
                                              "notes", "Reviewed the label", "products", "1", "at",
                                              at, "step", "nil", "nps", "nil", "same", "true"),
                        "");
    assert_non_null(tp_test_evidence(a, "first"));
    tp_fixture_free(f);
}

/* A bad `fields` list is a load error naming the entry: a typo would
 * otherwise read nil for ever. */
static void test_declared_fields_checked_at_load(void **state) {
    (void)state;
    static const struct {
        const char *fields, *says;
    } bad[] = {
        { "{ 'call.nope' }", "fields[1]: \"call.nope\" is not a field of the Envelope" },
        { "{ 'call.status', 'call' }", "fields[2]: \"call\" is a message" },
        { "{ 'call.status.x' }", "fields[1]: \"call.status.x\": status is not a message" },
        { "{ 'call..status' }", "fields[1]: \"call..status\" is not a path" },
        { "{ 42 }", "fields[1] must be a field path" },
        { "'call.status'", "fields must be a list of field paths" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[512], yaml[256];
        snprintf(text, sizeof text,
                 "return { name = 't', kind = 'friction', events = { 'call' }, fields = %s,\n"
                 "  on_event = function(ev, ctx) end }\n",
                 bad[i].fields);
        tp_lua_test_write("t.lua", text);
        snprintf(yaml, sizeof yaml, "lua_rules:\n  - { file: %s/t.lua }\n", tp_lua_test_dir);
        tp_lua_test_load_fails(yaml, "t.lua", bad[i].says, bad[i].fields);
    }
}

/* ctx:is_firing(a, b, ...) is ctx:is_firing(a .. b .. ...). */
static void test_is_firing_parts(void **state) {
    (void)state;
    tp_fixture_t *f = s_fixture(
        "", /* C-1 fires call/C-1 and n/7; C-2 reports what is_firing sees */
        "    local id = ev.call.call_id\n"
        "    if id == 'C-1' then\n"
        "      ctx:fire{ subject = 'call/C-1', summary = 's' }\n"
        "      ctx:fire{ subject = 'n/7', summary = 's' }\n"
        "      return\n"
        "    end\n"
        "    ctx:fire{ subject = 'call/' .. id, summary = 's', evidence = {\n"
        "      two = ctx:is_firing('call/', 'C-1'), three = ctx:is_firing('ca', 'll/C', '-1'),\n"
        "      one = ctx:is_firing('call/C-1'), number = ctx:is_firing('n/', 7),\n"
        "      other = ctx:is_firing('call/', 'C-9') } }",
        NULL);
    s_call(f, "C-1", NULL);
    s_call(f, "C-2", NULL);
    assert_string_equal(TP_TEST_EVIDENCE_DIFF(s_alert(f, "C-2"), "two", "true", "three", "true",
                                              "one", "true", "number", "true", "other", "false"),
                        "");
    tp_fixture_free(f);
    s_abandoned("", "ctx:is_firing('call/', {})", NULL, NULL, TP_LUA_ERR_BAD_ARGUMENT);
    s_abandoned("", "ctx:is_firing('', '')", NULL, NULL, TP_LUA_ERR_BAD_ARGUMENT);
    s_abandoned("", "ctx:is_firing('a', 'b\\0c')", NULL, NULL, TP_LUA_ERR_BAD_ARGUMENT);
    s_abandoned("", "ctx:is_firing(string.rep('x', 200), string.rep('y', 57))", NULL, NULL,
                TP_LUA_ERR_BAD_ARGUMENT);
}

/* A rule at its memory budget when an event comes: the declared fields
 * are pushed before its call, outside any pcall, where a failed
 * allocation would panic (abort) the daemon. They are pushed anyway; the
 * call then fails its first allocation and is abandoned for memory. */
static void test_declared_fields_at_memory_budget(void **state) {
    (void)state;
    tp_lua_test_write("t.lua", "local hold, full = nil, false\n"
                               "return { name = 't', kind = 'friction', events = { 'call' },\n"
                               "  fields = { 'call.notes' },\n"
                               "  on_event = function(ev, ctx, notes)\n"
                               "    if not full then -- fill the state, one small table at a time\n"
                               "      full = true\n"
                               "      pcall(function() while true do hold = { hold } end end)\n"
                               "      return\n"
                               "    end\n"
                               "    local t = { notes }\n"
                               "  end }\n");
    char *yaml;
    assert_true(asprintf(&yaml,
                         "clock: event\nlua_rules:\n"
                         "  - { file: %s/t.lua, budget: { memory: 256KiB } }\n"
                         "  - { file: %s/good.lua }\n",
                         tp_lua_test_dir, tp_lua_test_dir) > 0);
    tp_fixture_t *f = tp_fixture_only(yaml, "negative_feedback", NULL);
    free(yaml);
    char notes[8192]; /* a long string: never interned, always allocated */
    memset(notes, 'x', sizeof notes - 1);
    notes[sizeof notes - 1] = 0;
    s_call(f, "C-1", "fill");
    s_call(f, "C-2", notes);
    s_call(f, "C-3", notes);
    tp_lua_rule_stats_t t = tp_lua_test_stats(f, "t");
    assert_int_equal(t.calls, 3);
    assert_int_equal(t.errors[TP_LUA_ERR_MEMORY], 2);
    assert_int_equal(f->got.n, 3); /* good went on */
    tp_fixture_free(f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_words),
        cmocka_unit_test(test_text_trim_and_normalize),
        cmocka_unit_test(test_text_bad_arguments),
        cmocka_unit_test(test_declared_fields),
        cmocka_unit_test(test_declared_fields_checked_at_load),
        cmocka_unit_test(test_is_firing_parts),
        cmocka_unit_test(test_declared_fields_at_memory_budget),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
