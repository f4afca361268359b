/* tp_config_keys — the table of configuration keys (internal to tp_config).
 *
 * One row per dotted key: type, where it lives in tp_config_t, limits, the
 * default as YAML text and a one-line description. tp_config.c walks the
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
#define DURATION_MAX_MS ((int64_t)3650 * 86400000)

typedef enum {
    T_BOOL, T_UINT, T_INT, T_DURATION, T_STRING, T_ENDPOINT, T_ENUM, T_FIELDSET,
    T_OPT_STRING, T_Z85, T_INPUTS, T_BY_CHANNEL, T_BY_STEP, T_TARGETS, T_BY_MONTH, T_FEEDBACK_SOURCES,
    T_LISTEN, T_PARTITIONS,
} key_type_t;

typedef struct {
    const char        *path;      /* dotted key, relative to its table's root */
    key_type_t         type;
    size_t             off, size; /* where the value lives in the base struct */
    int64_t            min, max;  /* UINT, INT */
    const char *const *names;     /* ENUM: value i is names[i], NULL-terminated */
    const char        *def;       /* default as YAML text; NULL = required */
    const char        *desc;      /* one line, for the generated key reference */
} cfg_key_t;

extern const cfg_key_t tp_config_keys[];
extern const size_t tp_config_n_keys;
extern const cfg_key_t tp_config_input_keys[];
extern const size_t tp_config_n_input_keys;
extern const cfg_key_t tp_config_feedback_source_keys[];
extern const size_t tp_config_n_feedback_source_keys;

extern const char *const tp_config_modes[];
extern const char *const tp_config_late_styles[];
extern const char *const tp_config_month_names[12];   /* JAN..DEC */
extern const char *const tp_config_clocks[];
extern const char *const tp_config_field_names[TP_FIELD_COUNT];
/* Enum value i+1 (0 is UNSPECIFIED and never configurable). */
extern const char *const tp_config_channel_names[TP_CHANNEL_COUNT - 1];
extern const char *const tp_config_contract_type_names[TP_CONTRACT_TYPE_COUNT - 1];
