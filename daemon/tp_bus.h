/* tp_bus — where bytes enter and alerts leave: ZeroMQ on the libevent loop.
 *
 * Owns the ZeroMQ context and sockets: SUB inputs subscribed to "crm." and
 * the PUB output. Each readable socket joins the loop through its ZMQ_FD.
 * That fd is edge-triggered: it signals a change, not "a message is
 * waiting", so on every wake-up we read until zmq says EAGAIN; after a
 * bounded batch we yield to the loop and re-activate ourselves, so one
 * flooding input cannot starve the others or the timers.
 */
#pragma once

#include <stddef.h>

#include "tp_codec.h"
#include "tp_config.h"

struct event_base;

#define TP_BUS_BATCH 512         /* messages per socket per loop turn */

typedef struct tp_bus tp_bus_t;

/* One received message: frames[0..min(nframes, 4)-1] are valid for the
 * duration of the call; nframes is the real number of parts. */
typedef void (*tp_bus_recv_fn)(void *arg, const tp_frame_t *frames, size_t nframes);

/* NULL on failure (errno set). */
tp_bus_t *tp_bus_new(struct event_base *base);

/* Adds a SUB input on ep (bind or connect), subscribed to `prefix`,
 * refusing messages over max_msg_bytes. 0 or negative errno. */
int tp_bus_add_input(tp_bus_t *b, const tp_endpoint_t *ep, const char *prefix,
                     size_t max_msg_bytes, tp_bus_recv_fn fn, void *arg);

/* Sets the PUB output. 0 or negative errno. */
int tp_bus_set_output(tp_bus_t *b, const tp_endpoint_t *ep);

/* Publishes [topic, data] without blocking. 0, or -EAGAIN when the output
 * refused it, or another negative errno. */
int tp_bus_publish(tp_bus_t *b, const char *topic, const void *data, size_t len);

void tp_bus_destroy(tp_bus_t **p);
