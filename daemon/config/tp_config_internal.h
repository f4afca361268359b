/* tp_config_internal — what the parts of the config module share; not part
 * of its public API (tp_config.h).
 *
 * One parse runs with one tp_config_ctx_t: the config being built, the
 * document being walked and where the error line goes. The walker
 * (tp_config_yaml.c) hands each key of the table (tp_config_keys.c) to the
 * setter of its type (tp_config_types.c); the setters read scalars with
 * tp_config_values.c; tp_config_checks.c runs what spans keys last.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

#include "tp_config.h"
#include "tp_config_keys.h"

#define TP_CONFIG_PATH_LEN  160 /* longest dotted key path in a message */
#define TP_CONFIG_MAX_DEPTH 32  /* deeper nesting is refused before libyaml builds it */

/* Slots of tp_config_ctx_t.ep_line: inputs[i] is i, then these. */
enum {
    TP_CONFIG_SLOT_OUTPUT = TP_MAX_INPUTS,
    TP_CONFIG_SLOT_REPLAY,
    TP_CONFIG_SLOT_RELIABLE,
    TP_CONFIG_SLOT_COUNT,
};

typedef struct {
    const char      *name; /* file name for "name:line:" */
    char            *err;  /* the one error line, or NULL */
    size_t           errlen;
    yaml_document_t *doc;                           /* document being walked */
    tp_config_t     *c;                             /* the config being built */
    bool             defaults;                      /* applying built-in defaults: no user line */
    unsigned         ep_line[TP_CONFIG_SLOT_COUNT]; /* where each endpoint was set, 0 = default */
    unsigned         curve_line;                    /* where curve.secret_key_file was set */
} tp_config_ctx_t;

typedef int (*tp_config_setter_fn)(tp_config_ctx_t *p, const tp_config_key_t *k, const char *path,
                                   void *base, yaml_node_t *n);

/* ---- tp_config_yaml.c ---- */

/* One line "name:line: message" into p->err (n NULL: no line); -EINVAL. */
int tp_config_fail(tp_config_ctx_t *p, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* "mapping", "list" or "scalar", for messages. */
const char *tp_config_node_kind(const yaml_node_t *n);
/* A plain empty, "~" or "null" scalar. */
bool tp_config_node_is_null(const yaml_node_t *n);
/* The text of a scalar node; other kinds and embedded NULs are errors. */
int tp_config_node_text(tp_config_ctx_t *p, const char *path, const yaml_node_t *n,
                        const char **ret_text);
/* 0 if n is of type t (a mapping or a list), else the error. */
int tp_config_node_expect(tp_config_ctx_t *p, const char *path, const yaml_node_t *n,
                          yaml_node_type_t t);
/* Key of pair `pr` in `map`: a scalar no earlier pair of the map used. */
int tp_config_pair_key(tp_config_ctx_t *p, const char *path, yaml_node_t *map, yaml_node_pair_t *pr,
                       yaml_node_t **ret_node, const char **ret_key);
/* Loads the single YAML document in text into *ret_doc (caller deletes). */
int tp_config_yaml_load(tp_config_ctx_t *p, const char *text, size_t len, yaml_document_t *ret_doc);
/* Walks mapping `map`, whose keys are `rel`.KEY of `keys`, into base;
 * `root` prefixes paths in messages ("inputs[2]"). */
int tp_config_walk(tp_config_ctx_t *p, const tp_config_key_t *keys, size_t n_keys, const char *root,
                   const char *rel, void *base, yaml_node_t *map);
/* Runs each key's default YAML through its own setter, into base. */
int tp_config_apply_defaults(tp_config_ctx_t *p, const tp_config_key_t *keys, size_t n_keys,
                             void *base);

/* ---- tp_config_values.c ---- */

/* Writes an integer into a field of any width the table describes. */
void tp_config_store(void *dst, size_t size, int64_t v);
/* Decimal digits, a leading '-' only when `sign`. -EINVAL or -ERANGE. */
int tp_config_parse_i64(const char *s, bool sign, int64_t *ret_v);
/* A duration node within min..max ms, with the error every duration key gives. */
int tp_config_node_duration(tp_config_ctx_t *p, const char *path, yaml_node_t *n, int64_t min,
                            int64_t max, int64_t *ret_ms);

/* ---- tp_config_lua.c ---- */

int tp_config_set_lua_rules(tp_config_ctx_t *p, const tp_config_key_t *k, const char *path,
                            void *base, yaml_node_t *n);
int tp_config_set_tree(tp_config_ctx_t *p, const tp_config_key_t *k, const char *path, void *base,
                       yaml_node_t *n);
int tp_config_set_size(tp_config_ctx_t *p, const tp_config_key_t *k, const char *path, void *base,
                       yaml_node_t *n);

/* ---- tp_config_types.c ---- */

/* One item of a list or map of sub-tables: a mapping, its keys' defaults
 * first, then what the file says. */
int tp_config_walk_item(tp_config_ctx_t *p, const tp_config_key_t *keys, size_t n_keys,
                        const char *item_path, void *base, yaml_node_t *item);


/* The setter of each key type, indexed by tp_config_type_t. */
extern const tp_config_setter_fn tp_config_setters[];

/* ---- tp_config_checks.c ---- */

/* The checks that span keys, once the whole document is walked; also names
 * every endpoint (tp_endpoint_t.name). 0 or -EINVAL with the error line. */
int tp_config_check(tp_config_ctx_t *p);
