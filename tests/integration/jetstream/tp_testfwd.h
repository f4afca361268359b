/* tp_testfwd — a TCP forwarder on loopback that a test can cut and
 * restore, to split one client from a NATS cluster without root.
 *
 * It listens on 127.0.0.1:<port> and relays each connection to a target
 * port. Cut is a black hole, as a network split looks to both ends: bytes
 * from either side are read and dropped, connections stay open, new ones
 * are accepted and never answered; nothing is closed, so the client learns
 * of it only through its own timeouts. Restore closes every connection
 * (the client reconnects) and relays new ones again. One thread, polled.
 */
#pragma once

typedef struct tp_testfwd tp_testfwd_t;

/* Forwards 127.0.0.1:<tp_testfwd_port> to 127.0.0.1:target_port. Fails
 * the test if it cannot start. */
tp_testfwd_t *tp_testfwd_start(unsigned target_port);

unsigned tp_testfwd_port(const tp_testfwd_t *f);

void tp_testfwd_cut(tp_testfwd_t *f);
void tp_testfwd_restore(tp_testfwd_t *f);

/* Closes everything, joins the thread, frees. Accepts NULL. */
void tp_testfwd_stop(tp_testfwd_t **f);
