/* tp_nats_status — libnats' natsStatus as a negative errno and a message,
 * the one mapping shared by touchpointd's JetStream modules (daemon/jetstream)
 * and tp-pub --nats (adapters/tp-pub).
 *
 * Its own small library (tpnatsstatus, linking libnats) so that the rest of
 * common/ does not pull libnats into every tool.
 */
#pragma once

#include <stddef.h>

#include <nats/nats.h>

/* 0 for NATS_OK, else the closest negative errno: -ENOMEM, -ETIMEDOUT,
 * -ENOENT, -ECONNREFUSED (no server), -EINVAL, -ENOTCONN (connection
 * closed), -EIO for everything else. */
int tp_nats_status_errno(natsStatus s);

/* Describes a failed call in why: "what: <status text>", then ": <libnats'
 * last error>" when libnats has one for this thread. Returns
 * tp_nats_status_errno(s). */
int tp_nats_status_fail(natsStatus s, const char *what, char *why, size_t whylen);
