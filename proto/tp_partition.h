/* tp_partition — which JetStream partition an event belongs to, and the
 * subjects that carry it (docs/jetstream.md).
 *
 * One key for every payload kind: the HCP. Every rule that correlates
 * events of different kinds does so per HCP (follow_up_missing,
 * channel_mismatch: feedback and calls; uncoordinated_contact: calls;
 * negative_feedback: feedback and its contract), and the per-call and
 * per-contract rules see one call or contract, which belongs to one HCP, so
 * every event a rule needs lands on one partition. A contracting step
 * without hcp_id (optional in the contract) is keyed by contract_id: a
 * contract's steps must then all come without it. Watermarks have no key
 * and go to every partition.
 *
 * The hash is FNV-1a 32 of the key's bytes, modulo the partition count:
 * stable across releases, machines and languages, trivial to reimplement
 * in a producer. Shared by tp-pub, the daemon and the tests.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "touchpoint/v1/events.pb-c.h"

#define TP_EVENTS_SUBJECT_PREFIX "tp.events." /* tp.events.<partition>.<kind> */
#define TP_ALERTS_SUBJECT_PREFIX "tp.alerts." /* tp.alerts.<kind>.<rule> */
#define TP_PARTITION_MAX         1024         /* nats.partition_count at most */

/* FNV-1a, 32 bits, over the bytes of s. */
uint32_t tp_fnv1a32(const char *s);

/* The partition of `key` among `count` (> 0). */
unsigned tp_partition_of(const char *key, unsigned count);

/* The partition key of an event: hcp_id (contracting: contract_id when it
 * has no hcp_id); NULL for a watermark, which every partition gets. */
const char *tp_partition_key(const Touchpoint__V1__Envelope *env);

/* "tp.events.<partition>.<kind>" for the topic "crm.<kind>" into buf.
 * 0, or -EINVAL (not a crm. topic) / -ENOBUFS. */
int tp_partition_subject(char *buf, size_t len, unsigned partition, const char *topic);

/* The topic ("crm.<kind>") of an event subject, into buf: the last token
 * after "tp.events.<n>.". 0 or -EINVAL. */
int tp_partition_topic(char *buf, size_t len, const char *subject);
