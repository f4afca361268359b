/* tp_zap — who may talk to touchpointd when CURVE is on: a ZAP handler
 * (ZeroMQ RFC 27) with one allow-list of client public keys per endpoint.
 *
 * libzmq asks the handler about every CURVE handshake on a server socket:
 * a REP socket bound to inproc://zeromq.zap.01 in the same context gets
 * [version, request id, domain, address, identity, mechanism, public key]
 * and answers 200 (admit) or 400 (refuse). The domain is the endpoint's
 * role ("inputs[0]", "output", "replay", "reliable_input", ZMQ_ZAP_DOMAIN
 * on the socket); each has its own allow-list, a hash set of 32-byte keys.
 * A refusal is counted (stats->zap_denied) and logged, rate-limited, with
 * the domain and the client's key in Z85, so an operator sees who knocked.
 * An unknown domain or mechanism is refused: fail closed.
 *
 * Created by tp_bus_enable_curve() in the bus's context and owned by the
 * bus, which closes the sockets it guards before it (no handshake ever
 * runs without the handler). Runs on the libevent loop through ZMQ_FD,
 * drained until EAGAIN like every bus socket.
 */
#pragma once

#include <stdint.h>

#include "tp_log.h"
#include "tp_stats.h"

struct event_base;

#define TP_ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define TP_ZAP_MAX_KEYS 1000000 /* keys per allow-list file */

typedef struct tp_zap tp_zap_t;

/* Binds the handler in zctx and joins it to base. Refusals go to
 * stats->zap_denied (stats borrowed, may be NULL) and to the log at the
 * pace `rl` allows (copied). 0, -EADDRINUSE (another handler in this
 * context), or another negative errno. */
int tp_zap_new(struct event_base *base, void *zctx, tp_stats_t *stats, const tp_ratelimit_t *rl,
               tp_zap_t **ret);

/* Reads the allow-list file at `path` (one Z85 public key per line; blank
 * lines and '#' comments allowed) whole, then makes it domain's list,
 * replacing the previous one. On any error the previous list stays in
 * force. 0; -EBADMSG a line is not a key (tp_zap_bad_line() says which);
 * -E2BIG more than TP_ZAP_MAX_KEYS; -ENOMEM; -errno from reading. Safe to
 * call at any time (SIGHUP reload): handshakes in flight see the old or
 * the new list, never a half-read one. */
int tp_zap_load(tp_zap_t *z, const char *domain, const char *path);

/* The line of the last -EBADMSG from tp_zap_load, 1-based. */
unsigned tp_zap_bad_line(const tp_zap_t *z);

/* Keys allowed in domain (0 for an unknown domain). */
size_t tp_zap_count(const tp_zap_t *z, const char *domain);

/* Closes the socket, frees the lists; accepts NULL and *p == NULL. */
void tp_zap_destroy(tp_zap_t **p);
