/* test_lua_snapshot — Lua rules saved in an engine snapshot and loaded
 * into a fresh engine: the ctx:put store (every value type it takes) and
 * the ctx:arm deadlines (due time, key, arming order among equal due
 * times) come back, so the rest of the stream raises the same alerts as
 * an engine that never stopped. With other rule files at the restart the
 * load still works: a rule no longer configured loses its state, a new
 * one starts empty, one whose file changed keeps its store and deadlines
 * (in whatever slot it runs now), and the log says each. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "tp_testengine.h"
#include "tp_testutil.h"

#define SUBMITTED TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_SUBMITTED

static char s_dir[64];

static void s_path(char *buf, size_t len, const char *name) {
    snprintf(buf, len, "%s/%s.lua", s_dir, name);
}

/* Rule `name`, version v: counts calls in ctx:put("n") and keeps a table
 * of every value type; each call fires "<name> v<v> n=<n>" and arms two
 * deadlines a day on, "z<call>" then "a<call>" (armed in the order the
 * keys do not sort in); a deadline fires with what the store holds. */
static void s_write(const char *name, int v) {
    char path[128];
    s_path(path, sizeof path, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f,
            "local function show(ctx)\n"
            "  local t = ctx:get('t') or {}\n"
            "  return string.format('n=%%s t=%%s/%%s/%%s/%%s/%%s', tostring(ctx:get('n')),\n"
            "    tostring(t.s), tostring(t.i), tostring(t.f), tostring(t.b), tostring(t[1]))\n"
            "end\n"
            "return { name = '%s', kind = 'accountability', events = { 'call' },\n"
            "  on_event = function(ev, ctx)\n"
            "    local n = (ctx:get('n') or 0) + 1\n"
            "    ctx:put('n', n)\n"
            "    ctx:put('t', { s = 'x' .. n, i = n * 10, f = n + 0.5, b = n %% 2 == 0,\n"
            "                   [1] = 'one' })\n"
            "    ctx:put('gone', 'soon', 1000)\n"
            "    local id = ev.call.call_id\n"
            "    ctx:arm('z' .. id, ev.occurred_at_ms + 86400000)\n"
            "    ctx:arm('a' .. id, ev.occurred_at_ms + 86400000)\n"
            "    ctx:fire{ subject = 'call/' .. id, summary = '%s v%d ' .. show(ctx) }\n"
            "  end,\n"
            "  on_deadline = function(key, ctx)\n"
            "    ctx:fire{ subject = key, summary = '%s v%d ' .. key .. ' ' .. show(ctx)\n"
            "              .. ' gone=' .. tostring(ctx:get('gone')) }\n"
            "  end }\n",
            name, name, v, name, v);
    fclose(f);
}

/* An engine running the Lua rules named in `names` ("a b"), in that order. */
static tp_fixture_t *s_engine(const char *names) {
    char  head[1024] = "clock: event\nlua_rules:\n";
    char  copy[64];
    char *save = NULL;
    snprintf(copy, sizeof copy, "%s", names);
    for (char *n = strtok_r(copy, " ", &save); n; n = strtok_r(NULL, " ", &save)) {
        char path[128];
        s_path(path, sizeof path, n);
        snprintf(head + strlen(head), sizeof head - strlen(head), "  - { file: %s }\n", path);
    }
    return tp_fixture_only(head, "negative_feedback", NULL);
}

static void s_call(tp_fixture_t *f, const char *id, int64_t at) {
    TP_CALL(f, .event_id = id, .at_ms = at, .call_id = id, .status = SUBMITTED);
}

/* Saves f's engine and loads it into a new engine running `names`;
 * returns it, with what the load logged in *ret_log (caller frees). */
static tp_fixture_t *s_restart(tp_fixture_t *f, const char *names, char **ret_log) {
    tp_snapw_t *w;
    FILE       *snap = tp_test_snap_file(&w);
    tp_engine_save(f->engine, w);
    tp_test_snap_written(&w);

    tp_fixture_t *g = s_engine(names);
    FILE         *log = tmpfile();
    assert_non_null(log);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    assert_true(saved >= 0);
    assert_true(dup2(fileno(log), STDERR_FILENO) >= 0);
    tp_snapr_t *r = tp_test_snap_reader(snap, 0);
    int         k = tp_engine_load(g->engine, r);
    bool        at_end = tp_snapr_at_end(r);
    tp_snapr_destroy(&r);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    assert_int_equal(k, 0);
    assert_true(at_end);
    fclose(snap);

    long n = ftell(log);
    assert_true(n >= 0);
    char *text = calloc(1, (size_t)n + 1);
    assert_non_null(text);
    rewind(log);
    assert_int_equal(fread(text, 1, (size_t)n, log), (size_t)n);
    fclose(log);
    *ret_log = text;
    return g;
}

/* Before the cut: two calls, an hour apart: each rule arms four
 * deadlines (two per call at one due time). */
static void s_before(tp_fixture_t *f) {
    s_call(f, "C-1", TP_T0);
    s_call(f, "C-2", TP_T0 + TP_H);
}

/* After the cut: the deadlines come due (in due, then arming, order) and
 * one more call; the summaries of what fired, one per line. */
static char *s_after(tp_fixture_t *f) {
    tp_test_alerts_clear(&f->got);
    TP_WATERMARK(f, TP_T0 + 2 * TP_D);
    s_call(f, "C-3", TP_T0 + 2 * TP_D + 1);
    char  *out = NULL;
    size_t len = 0;
    FILE  *m = open_memstream(&out, &len);
    assert_non_null(m);
    for (size_t i = 0; i < f->got.n; i++)
        fprintf(m, "%s\n", f->got.alerts[i]->summary);
    fclose(m);
    return out;
}

static int s_setup(void **state) {
    (void)state;
    snprintf(s_dir, sizeof s_dir, "/tmp/tp-lua-snap-XXXXXX");
    assert_non_null(mkdtemp(s_dir));
    return 0;
}

static int s_teardown(void **state) {
    (void)state;
    const char *names[] = { "a", "b", "c" };
    for (size_t i = 0; i < 3; i++) {
        char path[128];
        s_path(path, sizeof path, names[i]);
        unlink(path);
    }
    rmdir(s_dir);
    return 0;
}

/* The same rules: exactly what an engine that never stopped raises. */
static void test_same_rules_same_alerts(void **state) {
    (void)state;
    s_write("a", 1);
    s_write("b", 1);
    tp_fixture_t *ref = s_engine("a b");
    s_before(ref);
    char         *log;
    tp_fixture_t *f = s_restart(ref, "a b", &log);
    assert_null(strstr(log, "Lua rule"));
    free(log);
    char *want = s_after(ref), *got = s_after(f);
    assert_string_equal(got, want);
    assert_string_equal(want, "a v1 zC-1 n=2 t=x2/20/2.5/true/one gone=nil\n"
                              "a v1 aC-1 n=2 t=x2/20/2.5/true/one gone=nil\n"
                              "b v1 zC-1 n=2 t=x2/20/2.5/true/one gone=nil\n"
                              "b v1 aC-1 n=2 t=x2/20/2.5/true/one gone=nil\n"
                              "a v1 zC-2 n=2 t=x2/20/2.5/true/one gone=nil\n"
                              "a v1 aC-2 n=2 t=x2/20/2.5/true/one gone=nil\n"
                              "b v1 zC-2 n=2 t=x2/20/2.5/true/one gone=nil\n"
                              "b v1 aC-2 n=2 t=x2/20/2.5/true/one gone=nil\n"
                              "a v1 n=3 t=x3/30/3.5/false/one\n"
                              "b v1 n=3 t=x3/30/3.5/false/one\n");
    free(want);
    free(got);
    tp_fixture_free(ref);
    tp_fixture_free(f);
}

/* a removed, b edited (and in a's slot now), c added (in b's old slot):
 * b keeps its store and deadlines, c starts empty and gets none of b's,
 * a's are gone; the load says so. */
static void test_other_rule_files(void **state) {
    (void)state;
    s_write("a", 1);
    s_write("b", 1);
    tp_fixture_t *f = s_engine("a b");
    s_before(f);
    s_write("b", 2);
    s_write("c", 1);
    char         *log;
    tp_fixture_t *g = s_restart(f, "b c", &log);
    assert_non_null(strstr(log, "Lua rule a ("));
    assert_non_null(strstr(log, "is no longer configured: its 3 stored values and 4 deadlines "
                                "dropped"));
    assert_non_null(strstr(log, "Lua rule b: "));
    assert_non_null(strstr(log, "changed since the snapshot; its 3 stored values and deadlines "
                                "are kept"));
    assert_non_null(strstr(log, "Lua rule c ("));
    assert_non_null(strstr(log, "was not running when the snapshot was taken"));
    free(log);
    char *got = s_after(g);
    assert_string_equal(got, "b v2 zC-1 n=2 t=x2/20/2.5/true/one gone=nil\n"
                             "b v2 aC-1 n=2 t=x2/20/2.5/true/one gone=nil\n"
                             "b v2 zC-2 n=2 t=x2/20/2.5/true/one gone=nil\n"
                             "b v2 aC-2 n=2 t=x2/20/2.5/true/one gone=nil\n"
                             "b v2 n=3 t=x3/30/3.5/false/one\n"
                             "c v1 n=1 t=x1/10/1.5/false/one\n");
    free(got);
    tp_fixture_free(f);
    tp_fixture_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_rules_same_alerts),
        cmocka_unit_test(test_other_rule_files),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
