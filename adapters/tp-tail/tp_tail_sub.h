/* tp_tail_sub — tp-tail's end of the alert stream: the SUB socket, one
 * message received whole, and [topic, Alert] decoded into the JSON line
 * tp-tail delivers (the Alert in proto3 JSON plus a "topic" member).
 *
 * Called by the loop in tp_tail.c, and through its decode callback by
 * tp_tail_durable.c for replayed alerts. Never logs: a malformed message
 * is -EBADMSG with the reason in `why`, for the caller to report and skip.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <zmq.h>

#include "tp_tail_opts.h"

/* Opens the alert SUB on ctx, connected (or bound) to o->endpoint, with
 * o's topics and CURVE identity. 0 and *ret, or the negative zmq errno. */
int tp_tail_sub_open(void *ctx, const struct tp_tail_opts *o, void **ret);

/* Receives every frame of one message without waiting, keeping at most the
 * first two in frames (the caller closes min(*ret_n, 2) of them). 0, or
 * the negative zmq errno (-EAGAIN: nothing to read). */
int tp_tail_sub_recv(void *sock, zmq_msg_t frames[2], size_t *ret_n);

/* Decodes one [topic, Alert] message: its sequence in *ret_seq and its JSON
 * line (malloc'd) in *ret_line, or NULL when --topic filters it out.
 * -EBADMSG with a reason in `why` when the message is malformed (with
 * --durable, an alert without a sequence is), -ENOMEM. */
int tp_tail_sub_decode(const struct tp_tail_opts *o, zmq_msg_t frames[2], size_t n_frames,
                       char *why, size_t whylen, uint64_t *ret_seq, char **ret_line);
