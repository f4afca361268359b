/* tp_pub_ahead — JSON lines decoded ahead, on worker threads, handed out in
 * input order. Used by tp_pub_next() for --nats without --map.
 *
 * Decoding a JSON line into a packed Envelope (jansson, then the proto
 * mapping) costs several times what publishing it to JetStream does: on
 * one thread it is what limits tp-pub --nats. Workers take chunks of lines
 * from the input in turn (the read itself is under a lock, so chunks are
 * numbered in file order), decode and pack them outside the lock, and the
 * caller takes the results chunk by chunk in that order: the events leave
 * in the order of the file, as with one thread. At most a few chunks per
 * worker are decoded ahead of the caller.
 */
#pragma once

#include <stddef.h>
#include <stdio.h>

#include "tp_pub.h"

typedef struct tp_pub_ahead tp_pub_ahead_t;

/* Reads `in` (borrowed) with `workers` threads; lines longer than
 * max_bytes are bad lines; id_why as for tp_pub_next. 0 or -errno. */
int tp_pub_ahead_new(FILE *in, size_t max_bytes, unsigned workers, const char *id_why,
                     tp_pub_ahead_t **ret);

/* As tp_input_next followed by tp_pub_pack: 1 an event in *ret (lineno
 * set), 0 the end, -EINVAL a bad line (*ret_line, reason in err), another
 * negative errno the input failed. */
int tp_pub_ahead_next(tp_pub_ahead_t *a, struct tp_pub_event *ret, size_t *ret_line, char *err,
                      size_t errlen);

/* Stops the workers, frees what was decoded and not taken. Accepts NULL. */
void tp_pub_ahead_destroy(tp_pub_ahead_t **p);
