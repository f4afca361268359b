/* test_lua_reload — tp_engine_reconfigure with Lua rules: a changed file
 * replaces the running version and keeps its store, deadlines and open
 * alerts; a file that no longer loads keeps the running version; a file
 * no longer listed is switched off (its alerts RESOLVED, rule_disabled). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <unistd.h>

#include "tp_testengine.h"

#define SUBMITTED TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_SUBMITTED

static char s_dir[64], s_file[128];

/* Version `v` of the rule: counts calls in ctx:put("n"), fires per call
 * with summary "v<v> n=<count>", arms a deadline a day after each call. */
static void s_write(int v, bool broken) {
    FILE *f = fopen(s_file, "w");
    assert_non_null(f);
    fprintf(f,
            "return { name = 'counter', kind = 'accountability', events = { 'call' },%s\n"
            "  on_event = function(ev, ctx)\n"
            "    local n = (ctx:get('n') or 0) + 1\n"
            "    ctx:put('n', n)\n"
            "    ctx:arm('d', ev.occurred_at_ms + 86400000)\n"
            "    ctx:fire{ subject = 'call/' .. ev.call.call_id, summary = 'v%d n=' .. n }\n"
            "  end,\n"
            "  on_deadline = function(key, ctx)\n"
            "    ctx:fire{ subject = 'deadline', summary = 'v%d deadline' }\n"
            "  end }\n",
            broken ? " = =" : "", v, v);
    fclose(f);
}

/* Only negative_feedback of the built-in rules (no call wakes it), and
 * the rule file if `listed`. */
static tp_config_t *s_config(bool listed) {
    char head[512], err[256];
    snprintf(head, sizeof head, "clock: event\n%s%s%s", listed ? "lua_rules:\n  - { file: " : "",
             listed ? s_file : "", listed ? " }\n" : "");
    char        *yaml = tp_fixture_only_yaml(head, "negative_feedback", NULL);
    tp_config_t *cfg;
    if (tp_config_parse(yaml, strlen(yaml), "t.yaml", err, sizeof err, &cfg) < 0)
        fail_msg("%s", err);
    free(yaml);
    return cfg;
}

static void s_reload(tp_fixture_t *f, bool listed) {
    tp_config_t *next = s_config(listed);
    char         why[256];
    assert_int_equal(tp_engine_reconfigure(f->engine, next, why, sizeof why), 0);
    tp_config_destroy(&f->cfg);
    f->cfg = next;
}

static void s_call(tp_fixture_t *f, const char *id, int64_t at) {
    char eid[32];
    snprintf(eid, sizeof eid, "%s@%lld", id, (long long)at);
    TP_CALL(f, .event_id = eid, .at_ms = at, .call_id = id, .status = SUBMITTED);
}

static void test_reload(void **state) {
    (void)state;
    snprintf(s_dir, sizeof s_dir, "/tmp/tp-lua-reload-XXXXXX");
    assert_non_null(mkdtemp(s_dir));
    snprintf(s_file, sizeof s_file, "%s/counter.lua", s_dir);
    s_write(1, false);
    char head[512];
    snprintf(head, sizeof head, "clock: event\nlua_rules:\n  - { file: %s }\n", s_file);
    tp_fixture_t *f = tp_fixture_only(head, "negative_feedback", NULL);
    s_call(f, "C-1", TP_T0);
    assert_string_equal(tp_expect(f, 0, TP_FIRING, "counter:call/C-1")->summary, "v1 n=1");

    s_write(2, true); /* broken: v1 keeps running */
    s_reload(f, true);
    s_call(f, "C-2", TP_T0 + 1);
    assert_string_equal(tp_expect(f, 1, TP_FIRING, "counter:call/C-2")->summary, "v1 n=2");

    s_write(2, false); /* v2 replaces it; the store (n) and the deadline stay */
    s_reload(f, true);
    s_call(f, "C-3", TP_T0 + 2);
    assert_string_equal(tp_expect(f, 2, TP_FIRING, "counter:call/C-3")->summary, "v2 n=3");
    s_call(f, "C-1", TP_T0 + 3); /* still FIRING from v1: dedup holds across the reload */
    assert_int_equal(f->got.n, 3);
    TP_WATERMARK(f, TP_T0 + 3 + TP_D + 1);
    assert_string_equal(tp_expect(f, 3, TP_FIRING, "counter:deadline")->summary, "v2 deadline");

    s_reload(f, false); /* no longer listed: its 4 open alerts resolve */
    assert_int_equal(f->got.n, 8);
    for (size_t i = 4; i < 8; i++) {
        tp_expect(f, i, TP_RESOLVED, NULL);
        assert_string_equal(tp_test_evidence(f->got.alerts[i], "reason"), "rule_disabled");
    }
    s_call(f, "C-4", TP_T0 + 2 * TP_D);
    assert_int_equal(f->got.n, 8);
    tp_fixture_free(f);
    unlink(s_file);
    rmdir(s_dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reload),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
