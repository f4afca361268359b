/* tp_config_keys — the table of configuration keys (internal to tp_config).
 *
 * One row per dotted key: type, where it lives in tp_config_t, limits, the
 * default as YAML text and a one-line description. tp_config_yaml.c walks the
 * YAML document against these rows; tp-config-doc generates the key reference of
 * docs/configuration.md and man/touchpointd.yaml.5 from them.
 * Adding a key is one row here (and its field in tp_config.h).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "tp_config.h"

/* Durations are added to event timestamps (unix ms); capping them at ten
 * years keeps every deadline far from int64 overflow. */
#define TP_CONFIG_DURATION_MAX_MS ((int64_t)3650 * 86400000)

typedef enum {
    TP_CONFIG_BOOL,
    TP_CONFIG_UINT,
    TP_CONFIG_INT,
    TP_CONFIG_DURATION,
    TP_CONFIG_STRING,
    TP_CONFIG_ENDPOINT,
    TP_CONFIG_ENUM,
    TP_CONFIG_FIELDSET,
    TP_CONFIG_OPT_STRING,
    TP_CONFIG_Z85,
    TP_CONFIG_INPUTS,
    TP_CONFIG_BY_CHANNEL,
    TP_CONFIG_BY_STEP,
    TP_CONFIG_TARGETS,
    TP_CONFIG_BY_MONTH,
    TP_CONFIG_FEEDBACK_SOURCES,
    TP_CONFIG_LISTEN,
    TP_CONFIG_PARTITIONS,
    TP_CONFIG_LUA_RULES,
    TP_CONFIG_TREE,
    TP_CONFIG_SIZE,
} tp_config_type_t;

typedef struct {
    const char        *path; /* dotted key, relative to its table's root */
    tp_config_type_t   type;
    size_t             off, size; /* where the value lives in the base struct */
    int64_t            min, max;  /* UINT, INT */
    const char *const *names;     /* ENUM: value i is names[i], NULL-terminated */
    const char        *def;       /* default as YAML text; NULL = required */
    const char        *desc;      /* one line, for the generated key reference */
} tp_config_key_t;

extern const tp_config_key_t tp_config_keys[];
extern const size_t          tp_config_n_keys;
extern const tp_config_key_t tp_config_input_keys[];
extern const size_t          tp_config_n_input_keys;
extern const tp_config_key_t tp_config_feedback_source_keys[];
extern const size_t          tp_config_n_feedback_source_keys;
extern const tp_config_key_t tp_config_lua_rule_keys[];
extern const size_t          tp_config_n_lua_rule_keys;

extern const char *const tp_config_modes[];
extern const char *const tp_config_late_styles[];
extern const char *const tp_config_month_names[12]; /* JAN..DEC */
extern const char *const tp_config_clocks[];
extern const char *const tp_config_field_names[TP_FIELD_COUNT];
/* Enum value i+1 (0 is UNSPECIFIED and never configurable). */
extern const char *const tp_config_channel_names[TP_CHANNEL_COUNT - 1];
extern const char *const tp_config_contract_type_names[TP_CONTRACT_TYPE_COUNT - 1];
