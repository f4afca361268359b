/* tp_map — maps rows of a CRM export onto the touchpointd contract.
 *
 * A mapping file (YAML, see docs/tools.md, "CRM exports", and
 * mappings/ holds examples) says how one export names things: which column holds the
 * call id, which picklist value means SUBMITTED, how its timestamps are
 * written. tp_map_apply_row() turns one row into an Envelope by building its
 * proto3 JSON form and handing it to tp_json_to_message(), so a mapped row
 * passes exactly the checks a JSON line passes. Reading the rows (CSV, JSON
 * lines) is tp_input's job; tp-pub --map is the caller.
 */
#pragma once

#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

typedef struct tp_map tp_map_t;

typedef enum { TP_MAP_CSV, TP_MAP_JSONL } tp_map_format_t;

/* Loads and validates the mapping file at `path`. 0 and *ret; -EINVAL with
 * "PATH:LINE: reason" in err (unknown keys, unknown contract fields, bad
 * enum names, a contract-required field left unmapped ...); -ENOENT etc. when
 * the file cannot be read (reason in err too); -ENOMEM. */
int tp_map_new_from_file(const char *path, char *err, size_t errlen, tp_map_t **ret);

/* Frees the mapping and NULLs *p; accepts NULL. */
void tp_map_destroy(tp_map_t **p);

tp_map_format_t tp_map_format(const tp_map_t *m);
char            tp_map_delimiter(const tp_map_t *m); /* CSV cell delimiter */

/* The source columns the mapping reads, 0 .. tp_map_n_columns()-1: the
 * order of `vals` in tp_map_apply_row(). */
size_t      tp_map_n_columns(const tp_map_t *m);
const char *tp_map_column(const tp_map_t *m, size_t i);

/* One row -> a new Envelope (free with protobuf_c_message_free_unpacked).
 * vals[i] is the text of column i (NULL or "" = empty). 0; -EINVAL with a
 * one-line reason in err that names the column ("column Status_vod__c:
 * unknown value \"Pending\" (expected one of ...)"); -ENOMEM. */
int tp_map_apply_row(const tp_map_t *m, const char *const *vals, char *err, size_t errlen,
                     ProtobufCMessage **ret_env);
