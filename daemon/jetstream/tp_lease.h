/* tp_lease — partition ownership through a JetStream KV bucket
 * (docs/jetstream.md, ownership: lease). Used by tp_cluster only.
 *
 * No consensus of our own: the bucket (TTL = nats.lease_ttl, replicated by
 * JetStream) is the arbiter. Key p.<N> holds the id of the instance that
 * owns partition N: claimed with kvStore_Create (fails if anybody holds
 * it), renewed with kvStore_Update(last revision) every ttl/3, lost the
 * moment an update is refused (revision moved, key gone) or when no renew
 * succeeded for ttl - ttl/3 (the server may expire it and someone else may
 * claim it). Independently of that thread, a holding reads as lost once
 * its last successful write was sent more than ttl - ttl/6 ago
 * (tp_lease_held_for): the worker stops before another instance can claim.
 * Key m.<instance> (put every round) makes the live members countable; an instance claims free partitions until it holds
 * ceil(partition_count / members), starting one round after it joined so
 * instances started together split fairly, and also takes a partition
 * nobody held for two rounds (a dead member's m. key may outlive its
 * leases). One that holds more than its share while none is free (a member
 * joined) gives one back per round: the worker stops serving it, and the
 * key is deleted once the worker confirmed (tp_lease_not_serving), renewed
 * until then.
 *
 * Everything runs on the lease's own thread (blocking KV requests) on a
 * connection the caller owns; the worker asks tp_lease_held() which
 * partitions it owns now.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <nats/nats.h>

#include "tp_config.h"

typedef struct tp_lease tp_lease_t;

typedef struct {
    uint64_t claimed, lost, released, renew_errors;
    unsigned owned, members;
} tp_lease_stats_t;

/* Opens (creates if missing) cfg->nats.lease_bucket on nc and starts the
 * lease thread for `instance`. cfg and nc are borrowed. 0 or negative
 * errno with the reason in why. */
int tp_lease_new(natsConnection *nc, const tp_config_t *cfg, const char *instance, char *why,
                 size_t whylen, tp_lease_t **ret);

/* Non-zero while this instance holds partition p: a generation number that
 * changes each time the partition is claimed again, so a loss followed by a
 * new claim is never mistaken for the same holding. */
uint64_t tp_lease_held(tp_lease_t *l, unsigned p);

/* As tp_lease_held, and how long (ms) the holding is sure to last if no
 * renewal succeeds meanwhile. A holding whose last successful write is
 * older than lease_ttl minus a margin reads as not held, even before the
 * lease thread has decided it is lost (it may be waiting on a cluster it
 * cannot reach): nobody else can claim the key before it expired. */
uint64_t tp_lease_held_for(tp_lease_t *l, unsigned p, int64_t *ret_ms);

/* Whether p was given back to a member that joined and is still renewed,
 * waiting for the worker to let go (tp_lease_not_serving): then true, and
 * *ret_ms how long the key is sure to stay ours (the worker may save p's
 * state for the next holder meanwhile). */
bool tp_lease_releasing(tp_lease_t *l, unsigned p, int64_t *ret_ms);

/* The worker serves partition p no more (it is not held, or the worker
 * dropped it): a partition given back is handed over only after this. */
void tp_lease_not_serving(tp_lease_t *l, unsigned p);

void tp_lease_get_stats(tp_lease_t *l, tp_lease_stats_t *ret);

/* Stops the thread, then deletes this instance's leases and member key so
 * the others take over at once instead of after the TTL (the caller has
 * stopped consuming before). Accepts NULL. */
void tp_lease_destroy(tp_lease_t **p);
