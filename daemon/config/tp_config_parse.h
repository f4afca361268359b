/* tp_config_parse — internals shared by the YAML walker (tp_config.c) and
 * the per-type setters (tp_config_types.c). Not part of the public API. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

#include "tp_config.h"
#include "tp_config_keys.h"

#define PATH_LEN 160

typedef struct {
    const char      *name;        /* file name for "name:line:" */
    char            *err;
    size_t           errlen;
    yaml_document_t *doc;         /* document being walked */
    tp_config_t     *c;
    bool             defaults;    /* applying built-in defaults: no user line */
    unsigned         ep_line[TP_MAX_INPUTS + 3]; /* inputs[i], output, replay, reliable */
    unsigned         curve_line;  /* where curve.secret_key_file was set, 0 = default */
} pctx_t;

typedef int (*setter_t)(pctx_t *p, const cfg_key_t *k, const char *path, void *base,
                        yaml_node_t *n);

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* One line "name:line: message" into p->err; returns -EINVAL. */
int tp_cfg_fail(pctx_t *p, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
const char *tp_cfg_kind(const yaml_node_t *n);
bool tp_cfg_is_null(const yaml_node_t *n);
int tp_cfg_text(pctx_t *p, const char *path, const yaml_node_t *n, const char **ret_text);
int tp_cfg_expect(pctx_t *p, const char *path, const yaml_node_t *n, yaml_node_type_t t);
int tp_cfg_pair_key(pctx_t *p, const char *path, yaml_node_t *map, yaml_node_pair_t *pr,
                    yaml_node_t **ret_kn, const char **ret_key);
void tp_cfg_store(void *dst, size_t size, int64_t v);
int tp_cfg_parse_i64(const char *s, bool sign, int64_t *ret_v);
int tp_cfg_duration_node(pctx_t *p, const char *path, yaml_node_t *n, int64_t min, int64_t max,
                         int64_t *ret_ms);
int tp_cfg_apply_defaults(pctx_t *p, const cfg_key_t *keys, size_t n_keys, void *base);
int tp_cfg_walk(pctx_t *p, const cfg_key_t *keys, size_t n_keys, const char *root,
                const char *prefix, void *base, yaml_node_t *map);

/* The setter of each key type (tp_config_types.c). */
extern const setter_t tp_cfg_setters[];
