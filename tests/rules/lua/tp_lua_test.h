/* tp_lua_test — what the Lua rule tests share: a scratch directory for the
 * rule files they write, and the check that a config whose rule file must
 * not load is refused with a given message naming the file, a rule's
 * counters. Header-only
 * (static): each test is its own executable. */
#pragma once

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tp_lua_rules.h"
#include "tp_testengine.h"

static char tp_lua_test_dir[64];

/* Makes the scratch directory (/tmp/<prefix>-XXXXXX). */
static inline void tp_lua_test_mkdir(const char *prefix) {
    snprintf(tp_lua_test_dir, sizeof tp_lua_test_dir, "/tmp/%s-XXXXXX", prefix);
    assert_non_null(mkdtemp(tp_lua_test_dir));
}

/* Removes it and what the test wrote there: 0, or -1. */
static inline int tp_lua_test_rmdir(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tp_lua_test_dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Writes `text` to file `name` of the scratch directory. */
static inline void tp_lua_test_write(const char *name, const char *text) {
    char path[128];
    snprintf(path, sizeof path, "%s/%s", tp_lua_test_dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* The config `yaml` parses, its Lua rules do not load (-EINVAL), and the
 * error says `says` and names `file`; `what` is for the failure message. */
static inline void tp_lua_test_load_fails(const char *yaml, const char *file, const char *says,
                                          const char *what) {
    char         err[512];
    tp_config_t *cfg;
    assert_int_equal(tp_config_parse(yaml, strlen(yaml), "t", err, sizeof err, &cfg), 0);
    assert_int_equal(tp_lua_rules_check(cfg, err, sizeof err), -EINVAL);
    if (!strstr(err, says) || !strstr(err, file))
        fail_msg("%s: \"%s\" does not say \"%s\"", what, err, says);
    tp_config_destroy(&cfg);
}

/* The counters of Lua rule `name` in f's engine. */
static inline tp_lua_rule_stats_t tp_lua_test_stats(tp_fixture_t *f, const char *name) {
    tp_lua_rule_stats_t st[8];
    size_t              n = tp_lua_rules_stats(tp_engine_lua_rules(f->engine), st, 8);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(st[i].name, name))
            return st[i];
    fail_msg("no Lua rule %s", name);
    return st[0];
}
