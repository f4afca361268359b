/* fuzz_engine — envelope decoding and rule evaluation: bytes become a
 * sequence of bus messages (see tp_fuzz_drive in tp_fuzz.h) fed to a real
 * engine on the embedded default config with clock: event, all 13 rules on
 * and the three example Lua rules of examples/rules/ beside them.
 * A new engine per input, destroyed after it, so runs are independent and
 * nothing leaks or grows across them. */
#include "tp_fuzz.h"

#include <stdio.h>
#include <string.h>

#ifndef TP_SOURCE_DIR
#define TP_SOURCE_DIR "."
#endif

/* The default config, parsed once; engines only borrow it. */
static const tp_config_t *s_config(void) {
    static tp_config_t *cfg;
    if (cfg)
        return cfg;
    /* The defaults with `lua_rules: []` replaced by the examples. */
    const char *def = tp_config_default_yaml(), *at = strstr(def, "lua_rules: []\n");
    static char yaml[16384];
    char        err[256];
    if (!at)
        tp_fuzz_fail("no lua_rules in the default config");
    snprintf(yaml, sizeof yaml,
             "%.*slua_rules:\n"
             "  - { file: %s/examples/rules/notes_quality.lua, config: { min_words: 5 } }\n"
             "  - { file: %s/examples/rules/contact_frequency.lua,"
             " config: { max_calls: 3, window: 7d } }\n"
             "  - { file: %s/examples/rules/compliance_after_signature.lua }\n%s",
             (int)(at - def), def, TP_SOURCE_DIR, TP_SOURCE_DIR, TP_SOURCE_DIR,
             at + strlen("lua_rules: []\n"));
    if (tp_config_parse(yaml, strlen(yaml), "<embedded>", err, sizeof err, &cfg) < 0)
        tp_fuzz_fail("default config: %s", err);
    cfg->clock = TP_CLOCK_EVENT;
    char         rules[1024];
    tp_engine_t *e;
    if (tp_engine_new(cfg, &e) < 0)
        tp_fuzz_fail("tp_engine_new failed");
    tp_engine_describe_rules(e, rules, sizeof rules);
    tp_engine_destroy(&e);
    size_t n = 1;
    for (const char *p = rules; *p; p++)
        n += *p == ' ';
    if (n != 16)
        tp_fuzz_fail("expected the 13 rules and 3 Lua rules enabled, got \"%s\"", rules);
    return cfg;
}

int tp_fuzz_engine(const uint8_t *data, size_t size) {
    const tp_config_t *cfg = s_config();
    tp_engine_t       *e;
    if (tp_engine_new(cfg, &e) < 0)
        tp_fuzz_fail("tp_engine_new failed");
    tp_fuzz_drive(e, data, size);
    tp_engine_destroy(&e);
    return 0;
}

#ifndef TP_FUZZ_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    return tp_fuzz_engine(data, size);
}
#endif
