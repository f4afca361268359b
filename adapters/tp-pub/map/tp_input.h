/* tp_input — tp-pub's input: Envelopes from JSON lines, or from a CRM
 * export (CSV or JSON lines) through a mapping (tp_map).
 *
 * One reading path for all of tp-pub's modes (XPUB, --reliable, --nats,
 * --dry-run; tp_pub_next() in tp_pub.c sits on it): each call yields the next Envelope with the physical line it came from, or a
 * bad row with a reason, so tp-pub reports "FILE:LINE: reason" the same way
 * whatever the input.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <protobuf-c/protobuf-c.h>

#include "tp_map.h"

typedef struct tp_input tp_input_t;

/* Reads `in` (not owned, not closed): JSON-line Envelopes when map is NULL,
 * else rows mapped by `map` (not owned; must outlive the input). Lines or
 * CSV records longer than max_bytes are bad rows. 0 and *ret, or -ENOMEM. */
int tp_input_new(FILE *in, const tp_map_t *map, size_t max_bytes, tp_input_t **ret);

/* 1: the next Envelope in *ret_env (the caller frees it with
 * protobuf_c_message_free_unpacked) from line *ret_line; 0: end of input;
 * -EINVAL: a bad row at *ret_line, reason in err, reading may go on; other
 * negative errno: fatal (a CSV header without a mapped column is -EBADMSG
 * with its reason in err; read errors, -ENOMEM with err empty). */
int tp_input_next(tp_input_t *in, ProtobufCMessage **ret_env, size_t *ret_line, char *err,
                  size_t errlen);

/* Frees the input and NULLs *p; accepts NULL. */
void tp_input_destroy(tp_input_t **p);

/* Whether the n bytes of a line are only spaces, tabs and line ends: such
 * lines are skipped, not bad rows, by every reading path of tp-pub (this
 * one and tp_pub_ahead's). */
bool tp_input_blank_line(const char *s, size_t n);
