/* test_lua_sandbox — a Lua rule that misbehaves is abandoned, counted by
 * reason, and the engine and the other rules go on: each test runs one
 * abusive rule next to a well-behaved one ("good", which fires on every
 * call) and checks both the count and that "good" still fired. */
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

#include "tp_lua_test.h"
#include "tp_testengine.h"

#define SUBMITTED TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_SUBMITTED

static const char s_good[] =
    "return { name = 'good', kind = 'accountability', events = { 'call' },\n"
    "  on_event = function(ev, ctx)\n"
    "    ctx:fire{ subject = 'call/' .. ev.call.call_id, summary = 'seen' }\n"
    "  end }\n";

static int s_setup(void **state) {
    (void)state;
    tp_lua_test_mkdir("tp-lua");
    tp_lua_test_write("good.lua", s_good);
    return 0;
}

static int s_teardown(void **state) {
    (void)state;
    return tp_lua_test_rmdir();
}

/* An engine running bad.lua (body of on_event given) then good.lua. */
static tp_fixture_t *s_fixture(const char *on_event, const char *budget) {
    char text[4096], head[1024];
    snprintf(text, sizeof text,
             "return { name = 'bad', kind = 'friction', events = { 'call' },\n"
             "  on_event = function(ev, ctx)\n%s\n  end }\n",
             on_event);
    tp_lua_test_write("bad.lua", text);
    snprintf(head, sizeof head,
             "clock: event\nlua_rules:\n  - { file: %s/bad.lua%s%s }\n  - { file: %s/good.lua }\n",
             tp_lua_test_dir, budget ? ", budget: " : "", budget ? budget : "", tp_lua_test_dir);
    return tp_fixture_only(head, "negative_feedback", NULL);
}

static void s_call(tp_fixture_t *f, const char *id) {
    TP_CALL(f, .event_id = id, .at_ms = TP_T0, .call_id = id, .status = SUBMITTED);
}

/* Runs `on_event` on two calls: both abandoned for `reason`, good fired twice. */
static void s_abandoned(const char *on_event, const char *budget, int reason) {
    tp_fixture_t *f = s_fixture(on_event, budget);
    s_call(f, "C-1");
    s_call(f, "C-2");
    tp_lua_rule_stats_t bad = tp_lua_test_stats(f, "bad");
    assert_int_equal(bad.calls, 2);
    for (int r = 0; r < TP_LUA_ERR_COUNT; r++)
        assert_int_equal(bad.errors[r], r == reason ? 2 : 0);
    assert_true(strlen(bad.last_error) > 0);
    assert_int_equal(tp_lua_test_stats(f, "good").errors[TP_LUA_ERR_ERROR], 0);
    assert_int_equal(f->got.n, 2);
    tp_expect(f, 0, TP_FIRING, "good:call/C-1");
    tp_expect(f, 1, TP_FIRING, "good:call/C-2");
    tp_fixture_free(f);
}

static void test_endless_loop(void **state) {
    (void)state;
    s_abandoned("while true do end", NULL, TP_LUA_ERR_INSTRUCTIONS);
}

/* A pcall inside the rule does not get it past its budget. */
static void test_endless_loop_in_pcall(void **state) {
    (void)state;
    s_abandoned("while true do pcall(function() while true do end end) end", NULL,
                TP_LUA_ERR_INSTRUCTIONS);
}

/* The watchdog hooks only the main thread: a coroutine is counted from
 * its start, or a loop inside one would run for ever. */
static void test_endless_loop_in_coroutine(void **state) {
    (void)state;
    s_abandoned("coroutine.wrap(function() while true do end end)()", NULL,
                TP_LUA_ERR_INSTRUCTIONS);
    s_abandoned("local co = coroutine.create(function() while true do end end)\n"
                "    while true do coroutine.resume(co) end",
                NULL, TP_LUA_ERR_INSTRUCTIONS);
}

/* A call is counted only once it has used a slice of CPU time (10 ms):
 * one that runs past its budget of 1,000 instructions in microseconds
 * completes. (A call over budget for which the count hook is on from the
 * start, as before the watchdog, is abandoned: the next test.) */
static void test_short_call_runs_uncounted(void **state) {
    (void)state;
    tp_fixture_t *f = s_fixture("local n = 0 for i = 1, 3000 do n = n + i end\n"
                                "    ctx:fire{ subject = 'sum/' .. n, summary = 'done' }",
                                "{ instructions: 1000 }");
    s_call(f, "C-1");
    s_call(f, "C-2");
    tp_lua_rule_stats_t bad = tp_lua_test_stats(f, "bad");
    assert_int_equal(bad.calls, 2);
    for (int r = 0; r < TP_LUA_ERR_COUNT; r++)
        assert_int_equal(bad.errors[r], 0);
    tp_expect(f, 0, TP_FIRING, "bad:sum/4501500");
    tp_fixture_free(f);
}

/* Once a call was abandoned for instructions, every later call of the rule
 * is counted from its start: the same short loop is abandoned now. */
static void test_counted_after_overrun(void **state) {
    (void)state;
    tp_lua_test_write("loopy.lua",
                      "local calls = 0\n"
                      "return { name = 'loopy', kind = 'friction', events = { 'call' },\n"
                      "  on_event = function(ev, ctx)\n"
                      "    calls = calls + 1\n"
                      "    if calls == 1 then while true do end end\n"
                      "    local n = 0 for i = 1, 3000 do n = n + i end\n"
                      "  end }\n");
    char head[512];
    snprintf(
        head, sizeof head,
        "clock: event\nlua_rules:\n  - { file: %s/loopy.lua, budget: { instructions: 1000 } }\n",
        tp_lua_test_dir);
    tp_fixture_t *f = tp_fixture_only(head, "negative_feedback", NULL);
    s_call(f, "C-1");
    s_call(f, "C-2");
    s_call(f, "C-3");
    tp_lua_rule_stats_t st = tp_lua_test_stats(f, "loopy");
    assert_int_equal(st.calls, 3);
    assert_int_equal(st.errors[TP_LUA_ERR_INSTRUCTIONS], 3);
    tp_fixture_free(f);
}

static void test_allocation_bomb(void **state) {
    (void)state;
    s_abandoned("local t = {} for i = 1, 1e9 do t[i] = {i, i, i} end",
                "{ instructions: 1000000000, memory: 1MiB }", TP_LUA_ERR_MEMORY);
}

static void test_huge_string(void **state) {
    (void)state;
    s_abandoned("local s = string.rep('x', 1 << 30)", NULL, TP_LUA_ERR_MEMORY);
}

static void test_error(void **state) {
    (void)state;
    s_abandoned("error('boom')", NULL, TP_LUA_ERR_ERROR);
}

static void test_deep_recursion(void **state) {
    (void)state;
    s_abandoned("local function f(n) return 1 + f(n + 1) end f(1)",
                "{ instructions: 1000000000, memory: 64MiB }", TP_LUA_ERR_ERROR);
}

static void test_bad_fire_arguments(void **state) {
    (void)state;
    s_abandoned("ctx:fire{ summary = 'no subject' }", NULL, TP_LUA_ERR_BAD_ARGUMENT);
    s_abandoned("ctx:fire{ subject = 's', summary = 'x', evidence = { a = {} } }", NULL,
                TP_LUA_ERR_BAD_ARGUMENT);
    s_abandoned("ctx:fire{ subject = 's', summary = 'x', severity = 'LOUD' }", NULL,
                TP_LUA_ERR_BAD_ARGUMENT);
    s_abandoned("ctx:arm('k', 'soon')", NULL, TP_LUA_ERR_BAD_ARGUMENT);
    s_abandoned("ctx:put('k', function() end)", NULL, TP_LUA_ERR_BAD_ARGUMENT);
}

static void test_yield_across_c(void **state) {
    (void)state;
    s_abandoned("coroutine.yield(1)", NULL, TP_LUA_ERR_ERROR);
}

static void test_no_escape(void **state) {
    (void)state;
    s_abandoned("x = 1", NULL, TP_LUA_ERR_ERROR);                   /* globals read-only */
    s_abandoned("io.open('/etc/passwd')", NULL, TP_LUA_ERR_ERROR);  /* no io */
    s_abandoned("os.exit(1)", NULL, TP_LUA_ERR_ERROR);              /* no os */
    s_abandoned("require('os')", NULL, TP_LUA_ERR_ERROR);           /* no require */
    s_abandoned("load('return 1')()", NULL, TP_LUA_ERR_ERROR);      /* no load */
    s_abandoned("debug.sethook()", NULL, TP_LUA_ERR_ERROR);         /* no debug */
    s_abandoned("rawset(_ENV, 'x', 1)", NULL, TP_LUA_ERR_ERROR);    /* no rawset */
    s_abandoned("setmetatable(_ENV, nil)", NULL, TP_LUA_ERR_ERROR); /* locked */
    s_abandoned("local r = math.random()", NULL, TP_LUA_ERR_ERROR); /* no randomness */
    s_abandoned("ev.event_id = 'x'", NULL, TP_LUA_ERR_ERROR);       /* ev read-only */
    /* no finalizers: one would run wherever the collector finds it, also
     * outside any call and its budget */
    s_abandoned("setmetatable({}, { __gc = function() end })", NULL, TP_LUA_ERR_BAD_ARGUMENT);
    /* other metatables are fine: the call goes on to a bad argument of its own */
    s_abandoned("setmetatable({}, { __index = {} }) ctx:arm('k', 'soon')", NULL,
                TP_LUA_ERR_BAD_ARGUMENT);
    s_abandoned("local t = setmetatable({}, { __index = { x = 1 } })\n"
                "    if t.x ~= 1 then ctx:arm('k', 'soon') end error('ok')",
                NULL, TP_LUA_ERR_ERROR);
}

/* An ev kept past its call is dead, not freed memory. */
static void test_kept_event_is_dead(void **state) {
    (void)state;
    tp_lua_test_write("keep.lua",
                      "local kept\n"
                      "return { name = 'keep', kind = 'friction', events = { 'call' },\n"
                      "  on_event = function(ev, ctx)\n"
                      "    if kept then local x = kept.event_id end\n"
                      "    kept = ev\n"
                      "  end }\n");
    char head[512];
    snprintf(head, sizeof head, "clock: event\nlua_rules:\n  - { file: %s/keep.lua }\n",
             tp_lua_test_dir);
    tp_fixture_t *f = tp_fixture_only(head, "negative_feedback", NULL);
    s_call(f, "C-1");
    s_call(f, "C-2");
    tp_lua_rule_stats_t st = tp_lua_test_stats(f, "keep");
    assert_int_equal(st.errors[TP_LUA_ERR_ERROR], 1);
    assert_non_null(strstr(st.last_error, "only valid during the call"));
    tp_fixture_free(f);
}

/* A bytecode chunk is refused at load. */
static void test_no_bytecode(void **state) {
    (void)state;
    tp_lua_test_write("bc.lua", "\x1bLua\x54");
    char         head[512], err[512] = "";
    tp_config_t *cfg;
    snprintf(head, sizeof head, "lua_rules:\n  - { file: %s/bc.lua }\n", tp_lua_test_dir);
    assert_int_equal(tp_config_parse(head, strlen(head), "t.yaml", err, sizeof err, &cfg), 0);
    assert_int_equal(tp_lua_rules_check(cfg, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "binary chunk"));
    tp_config_destroy(&cfg);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_endless_loop),
        cmocka_unit_test(test_endless_loop_in_pcall),
        cmocka_unit_test(test_endless_loop_in_coroutine),
        cmocka_unit_test(test_short_call_runs_uncounted),
        cmocka_unit_test(test_counted_after_overrun),
        cmocka_unit_test(test_allocation_bomb),
        cmocka_unit_test(test_huge_string),
        cmocka_unit_test(test_error),
        cmocka_unit_test(test_deep_recursion),
        cmocka_unit_test(test_bad_fire_arguments),
        cmocka_unit_test(test_yield_across_c),
        cmocka_unit_test(test_no_escape),
        cmocka_unit_test(test_kept_event_is_dead),
        cmocka_unit_test(test_no_bytecode),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
