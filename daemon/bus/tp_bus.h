/* tp_bus — where bytes enter and alerts leave: ZeroMQ on the libevent loop.
 *
 * Owns the ZeroMQ context and sockets: SUB inputs subscribed to "crm.",
 * the alert output (an XPUB, so a full subscriber is reported instead of
 * silently skipped) and ROUTER sockets for request/reply peers (replay). Each readable socket joins the loop through its ZMQ_FD.
 * That fd is edge-triggered: it signals a change, not "a message is
 * waiting", so on every wake-up we read until zmq says EAGAIN; after a
 * bounded batch we yield to the loop and re-activate ourselves, so one
 * flooding input cannot starve the others or the timers.
 *
 * Inputs and routers drop and log messages above their byte limit; on
 * event inputs (SUB inputs, and routers given tp_bus_on_oversize) they are
 * also counted, in stats->oversize and stats->received (tp_stats.h: every
 * input message is received once and ends in one counter). ZMQ_MAXMSGSIZE is only a memory ceiling far above it
 * (max(4 x the limit, 16 MiB)): libzmq disconnects a peer that sends a frame above the
 * ceiling, without telling us, so that case is not counted.
 *
 * With tp_bus_enable_curve() every socket opened afterwards uses CURVE:
 * bound ones are CURVE servers whose clients the ZAP handler (tp_zap.h)
 * checks against the endpoint's allow-list, domain = the endpoint's name;
 * connected ones are CURVE clients of ep->curve_server_key.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "tp_codec.h"
#include "tp_config.h"
#include "tp_log.h"
#include "tp_stats.h"
#include "tp_zap.h"

struct event_base;

#define TP_BUS_BATCH 512 /* messages per socket per loop turn */


typedef struct tp_bus      tp_bus_t;
typedef struct tp_bus_sock tp_bus_sock_t;

/* One received message: frames[0..min(nframes, 4)-1] are valid for the
 * duration of the call; nframes is the real number of parts. */
typedef void (*tp_bus_recv_fn)(void *arg, const tp_frame_t *frames, size_t nframes);

/* A bus on `base` (borrowed) with its own ZeroMQ context, no sockets yet.
 * 0 and the bus in *ret (free with tp_bus_destroy), or -ENOMEM / the
 * negative errno of zmq_ctx_new. */
int tp_bus_new(struct event_base *base, tp_bus_t **ret);

/* Where the bus counts what it drops (stats->oversize and ->received of
 * event inputs; the ZAP handler's stats->zap_denied) and how often it may log about it (rl is copied).
 * stats is borrowed and must outlive the bus. Call before adding sockets. */
void tp_bus_set_counters(tp_bus_t *b, tp_stats_t *stats, const tp_ratelimit_t *rl);

/* Turns CURVE on for every socket added after this call, with the
 * daemon's keypair (Z85, copied). Creates the ZAP handler in the bus's
 * context; the bus owns it and closes it after the sockets it guards.
 * *ret_zap is borrowed, for tp_zap_load() (load every bound endpoint's
 * allow-list, under its ep->name, before adding the socket: an endpoint
 * without a list admits nobody). 0 or negative errno. */
int tp_bus_enable_curve(tp_bus_t *b, const char *public_key, const char *secret_key,
                        tp_zap_t **ret_zap);

/* Adds a SUB input on ep (bind or connect), subscribed to the contract's
 * "crm." prefix, dropping and counting messages over max_msg_bytes. *ret
 * (may be NULL) is its handle for tp_bus_close. 0 or negative errno. */
int tp_bus_add_input(tp_bus_t *b, const tp_endpoint_t *ep, size_t max_msg_bytes, tp_bus_recv_fn fn,
                     void *arg, tp_bus_sock_t **ret);

/* Sets the alert output: an XPUB with ZMQ_XPUB_NODROP and SNDHWM ep->hwm.
 * 0 or negative errno. */
int tp_bus_set_output(tp_bus_t *b, const tp_endpoint_t *ep);

/* Publishes [topic, data] without blocking. 0, or -EAGAIN when a matching
 * subscriber's queue is full: the policy is to drop the alert for every
 * subscriber rather than deliver it to some (the caller counts it; the
 * journal keeps it for replay). */
int tp_bus_publish(tp_bus_t *b, const char *topic, const void *data, size_t len);

/* Subscribers currently joined to the output (from XPUB subscriptions). */
size_t tp_bus_subscribers(const tp_bus_t *b);

/* Adds a ROUTER socket (ZMQ_ROUTER_MANDATORY): fn gets [identity, ...]
 * messages. *ret is the handle to reply on. 0 or negative errno. */
int tp_bus_add_router(tp_bus_t *b, const tp_endpoint_t *ep, size_t max_msg_bytes, tp_bus_recv_fn fn,
                      void *arg, tp_bus_sock_t **ret);

/* On a ROUTER, during its callbacks: the address the message came from
 * (libzmq's "Peer-Address", an IP for tcp://), "" when libzmq gives none
 * (ipc://, inproc://). */
const char *tp_bus_peer_address(const tp_bus_sock_t *s);

/* Makes router s an event input: each message over its max_msg_bytes is
 * counted (stats->oversize, stats->received) and logged, then handed to fn
 * (same frames as the receive callback, same arg): the reliable input
 * answers it with a NACK. */
void tp_bus_on_oversize(tp_bus_sock_t *s, tp_bus_recv_fn fn);

/* Sends one message (frames in order, the first is the peer identity on a
 * ROUTER) without blocking. 0, -EAGAIN (the peer's queue is full: try
 * later), -EHOSTUNREACH (the peer is gone), or another negative errno. */
int tp_bus_send(tp_bus_sock_t *s, const tp_frame_t *frames, size_t n);

/* The alert output's handle (NULL if none), for tp_bus_close. */
tp_bus_sock_t *tp_bus_output(tp_bus_t *b);

/* Closes one socket (a reload moving an endpoint). With `drain`, messages
 * already queued on it are first handed to its callback, so nothing that
 * arrived is lost. NULLs *p; accepts NULL. */
void tp_bus_close(tp_bus_t *b, tp_bus_sock_t **p, bool drain);

void tp_bus_destroy(tp_bus_t **p);
