/* tp_lease — see tp_lease.h. */
#include "tp_lease.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tp_nats.h"
#include "tp_nats_status.h"
#include "tp_partition.h"

struct tp_lease {
    jsCtx             *js; /* ours: KV requests time out after a renew period */
    kvStore           *kv;
    const tp_config_t *cfg;
    char              *instance;
    char               member_key[160];
    unsigned           count; /* partition_count */
    int64_t            ttl_ms, period_ms;
    pthread_t          thread;
    bool               started;
    pthread_mutex_t    mu; /* guards what follows: read by the worker */
    pthread_cond_t     cond;
    bool               stop;
    uint64_t          *gen;       /* [count]: non-zero while held */
    int64_t           *valid_ms;  /* [count]: held only before this (monotonic ms) */
    bool              *idle_seen; /* [count]: tp_lease_not_serving since the give-back */
    uint64_t           next_gen;
    tp_lease_stats_t   stats;
    /* Lease thread only. */
    uint64_t *rev;         /* [count]: revision of our last write */
    int64_t  *renewed_ms;  /* [count]: last successful write */
    bool     *draining;    /* [count]: given back, still renewed until... */
    bool     *idle;        /* [count]: ...the worker said it serves it no more */
    unsigned *free_rounds; /* [count]: rounds in a row it had no holder */
};

static int64_t s_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void s_key(char *buf, size_t len, unsigned p) {
    snprintf(buf, len, "p.%u", p);
}

/* A write of p.<N> sent at sent_ms (before the request went out) keeps the
 * key on the server until at least sent_ms + ttl, the soonest another
 * instance can claim it. We serve it only until sent_ms + ttl - margin,
 * whatever the lease thread is doing: a request it waits on while cut off
 * from the cluster takes a renew period to time out, and with several
 * partitions a round of them can outlast the TTL. The margin covers a
 * worker's batch between its last check and its acks. */
static void s_valid_from(tp_lease_t *l, unsigned p, int64_t sent_ms) {
    pthread_mutex_lock(&l->mu);
    l->valid_ms[p] = sent_ms + l->ttl_ms - l->period_ms / 2;
    pthread_mutex_unlock(&l->mu);
}

static void s_set_held(tp_lease_t *l, unsigned p, bool held) {
    pthread_mutex_lock(&l->mu);
    if (held) {
        l->gen[p] = ++l->next_gen;
        l->stats.claimed++;
        l->stats.owned++;
    } else if (l->gen[p]) {
        l->gen[p] = 0;
        l->stats.owned--;
    }
    pthread_mutex_unlock(&l->mu);
}

/* The value of p.<N> is ours? 1 yes (ret_rev set), 0 no or gone, <0 unknown. */
static int s_still_ours(tp_lease_t *l, const char *key, uint64_t *ret_rev) {
    kvEntry   *e = NULL;
    natsStatus s = kvStore_Get(&e, l->kv, key);
    if (s == NATS_NOT_FOUND)
        return 0;
    if (s != NATS_OK)
        return -EIO;
    int r = strcmp(kvEntry_ValueString(e), l->instance) == 0;
    *ret_rev = kvEntry_Revision(e);
    kvEntry_Destroy(e);
    return r;
}

/* Renews every held lease; a refused update is a loss unless the key still
 * names us (our previous update was applied but its reply lost). */
static void s_renew(tp_lease_t *l, int64_t now) {
    for (unsigned p = 0; p < l->count; p++) {
        pthread_mutex_lock(&l->mu);
        bool held = l->gen[p] != 0, drained = l->draining[p] && l->idle_seen[p];
        if (drained)
            l->draining[p] = false;
        held |= l->draining[p];
        pthread_mutex_unlock(&l->mu);
        char key[32];
        s_key(key, sizeof key, p);
        if (drained) { /* the worker let go: hand it over */
            uint64_t rev;
            if (s_still_ours(l, key, &rev) > 0)
                kvStore_Delete(l->kv, key); /* if this fails, the TTL frees it */
            continue;
        }
        if (!held)
            continue;
        uint64_t rev = 0;
        int64_t  sent = s_now_ms(); /* a round of timeouts can be long: not the round's start */
        if (kvStore_UpdateString(&rev, l->kv, key, l->instance, l->rev[p]) == NATS_OK) {
            l->rev[p] = rev;
            l->renewed_ms[p] = sent;
            s_valid_from(l, p, sent);
            continue;
        }
        now = s_now_ms();
        pthread_mutex_lock(&l->mu);
        l->stats.renew_errors++;
        pthread_mutex_unlock(&l->mu);
        int r = s_still_ours(l, key, &rev);
        if (r > 0) {
            /* The next update continues from there. The key's age is not
             * known: validity stays as it was until that update succeeds. */
            l->rev[p] = rev;
            continue;
        }
        /* Refused, or no answer for so long that the server may already
         * have expired it: from now on someone else may hold it. */
        if (r == 0 || now - l->renewed_ms[p] >= l->ttl_ms - l->period_ms) {
            s_set_held(l, p, false);
            pthread_mutex_lock(&l->mu);
            l->stats.lost++;
            l->draining[p] = false;
            pthread_mutex_unlock(&l->mu);
        }
    }
}

/* Live members (m.* keys) and which partitions have a holder. */
static unsigned s_scan(tp_lease_t *l, bool *taken) {
    kvKeysList kl = { 0 };
    unsigned   members = 0;
    memset(taken, 0, l->count * sizeof *taken);
    natsStatus s = kvStore_Keys(&kl, l->kv, NULL);
    if (s != NATS_OK && s != NATS_NOT_FOUND)
        return 0;
    for (int i = 0; i < kl.Count; i++) {
        const char *k = kl.Keys[i];
        char       *end;
        if (strncmp(k, "m.", 2) == 0) {
            members++;
        } else if (strncmp(k, "p.", 2) == 0) {
            unsigned long p = strtoul(k + 2, &end, 10);
            if (*end == '\0' && p < l->count)
                taken[p] = true;
        }
    }
    kvKeysList_Destroy(&kl);
    return members;
}

/* Claims free partitions until we hold our share, ceil(count / members),
 * starting at a point that depends on the instance so members started
 * together try different keys first. */
static void s_claim(tp_lease_t *l, bool *taken) {
    unsigned members = s_scan(l, taken);
    if (members == 0)
        return; /* no answer: try next round */
    pthread_mutex_lock(&l->mu);
    l->stats.members = members;
    unsigned owned = l->stats.owned;
    pthread_mutex_unlock(&l->mu);
    unsigned share = (l->count + members - 1) / members, free = 0;
    for (unsigned p = 0; p < l->count; p++) {
        l->free_rounds[p] = taken[p] ? 0 : l->free_rounds[p] + 1;
        free += !taken[p];
    }
    if (owned > share && free == 0) {
        /* A member joined: give one back per round. The worker stops
         * serving it; we keep renewing the key until the worker said so
         * (tp_lease_not_serving), and only then delete it: a worker busy
         * with a take-over or a batch never overlaps the next holder. */
        for (unsigned p = l->count; p-- > 0;) {
            if (!tp_lease_held(l, p))
                continue;
            /* Draining before it reads as not held: the worker must never
             * take a give-back for a loss (tp_lease_releasing). */
            pthread_mutex_lock(&l->mu);
            l->stats.released++;
            l->draining[p] = true;
            l->idle_seen[p] = false;
            pthread_mutex_unlock(&l->mu);
            s_set_held(l, p, false);
            break;
        }
        return;
    }
    unsigned start = tp_fnv1a32(l->instance) % l->count;
    for (unsigned i = 0; i < l->count; i++) {
        unsigned p = (start + i) % l->count;
        /* Beyond our share only what nobody took for two rounds: the
         * member key of a dead instance may outlive its leases by up to a
         * round, and its partitions must not wait for that. */
        if (taken[p] || (owned >= share && l->free_rounds[p] < 2))
            continue;
        char     key[32];
        uint64_t rev = 0;
        s_key(key, sizeof key, p);
        int64_t sent = s_now_ms();
        if (kvStore_CreateString(&rev, l->kv, key, l->instance) != NATS_OK)
            continue; /* somebody was faster */
        l->rev[p] = rev;
        l->renewed_ms[p] = sent;
        s_valid_from(l, p, sent);
        s_set_held(l, p, true);
        owned++;
    }
}

static void *s_thread(void *arg) {
    tp_lease_t *l = arg;
    int64_t     joined = s_now_ms(), next = joined;
    bool       *taken = calloc(l->count, sizeof *taken);
    pthread_mutex_lock(&l->mu);
    while (!l->stop && taken) {
        int64_t now = s_now_ms();
        if (now < next) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            int64_t ns = ts.tv_nsec + (next - now) * 1000000;
            ts.tv_sec += (time_t)(ns / 1000000000);
            ts.tv_nsec = (long)(ns % 1000000000);
            pthread_cond_timedwait(&l->cond, &l->mu, &ts);
            continue; /* woken to stop, or due */
        }
        pthread_mutex_unlock(&l->mu);
        uint64_t rev;
        if (kvStore_PutString(&rev, l->kv, l->member_key, l->instance) != NATS_OK) {
            pthread_mutex_lock(&l->mu);
            l->stats.renew_errors++;
            pthread_mutex_unlock(&l->mu);
        }
        s_renew(l, now);
        /* A round after joining: by then every member started together has
         * put its m.<instance> key, so the share is computed right. */
        if (now - joined >= l->period_ms)
            s_claim(l, taken);
        next = now + l->period_ms;
        pthread_mutex_lock(&l->mu);
    }
    pthread_mutex_unlock(&l->mu);
    free(taken);
    return NULL;
}

int tp_lease_new(natsConnection *nc, const tp_config_t *cfg, const char *instance, char *why,
                 size_t whylen, tp_lease_t **ret) {
    tp_lease_t *l = calloc(1, sizeof *l);
    if (!l) {
        snprintf(why, whylen, "out of memory");
        return -ENOMEM;
    }
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cond, NULL);
    l->cfg = cfg;
    l->count = cfg->nats.partition_count;
    l->ttl_ms = cfg->nats.lease_ttl_ms;
    l->period_ms = l->ttl_ms / 3;
    l->instance = strdup(instance);
    l->gen = calloc(l->count, sizeof *l->gen);
    l->valid_ms = calloc(l->count, sizeof *l->valid_ms);
    l->rev = calloc(l->count, sizeof *l->rev);
    l->renewed_ms = calloc(l->count, sizeof *l->renewed_ms);
    l->draining = calloc(l->count, sizeof *l->draining);
    l->idle_seen = calloc(l->count, sizeof *l->idle_seen);
    l->free_rounds = calloc(l->count, sizeof *l->free_rounds);
    int r = 0;
    if (!l->instance || !l->gen || !l->valid_ms || !l->rev || !l->renewed_ms || !l->draining ||
        !l->idle_seen || !l->free_rounds) {
        snprintf(why, whylen, "out of memory");
        r = -ENOMEM;
        goto fail;
    }
    snprintf(l->member_key, sizeof l->member_key, "m.%s", instance);
    /* A request that has no answer within a renew period is not going to
     * save the lease: fail it and decide (the default waits 5 s). */
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = l->period_ms > 500 ? l->period_ms : 500;
    natsStatus s = natsConnection_JetStream(&l->js, nc, &jo);
    jsCtx     *js = l->js;
    if (s == NATS_OK)
        s = js_KeyValue(&l->kv, js, cfg->nats.lease_bucket);
    if (s == NATS_NOT_FOUND) {
        kvConfig kc;
        kvConfig_Init(&kc);
        kc.Bucket = cfg->nats.lease_bucket;
        kc.History = 1;
        kc.TTL = cfg->nats.lease_ttl_ms * 1000000;
        kc.StorageType = js_FileStorage;
        kc.Replicas = (int)cfg->nats.replicas;
        s = js_CreateKeyValue(&l->kv, js, &kc);
        if (s != NATS_OK) /* another instance created it meanwhile? */
            s = js_KeyValue(&l->kv, js, cfg->nats.lease_bucket);
    }
    if (s != NATS_OK) {
        char what[128];
        snprintf(what, sizeof what, "lease bucket %s", cfg->nats.lease_bucket);
        r = tp_nats_status_fail(s, what, why, whylen);
        goto fail;
    }
    if ((r = -pthread_create(&l->thread, NULL, s_thread, l)) < 0) {
        snprintf(why, whylen, "cannot start the lease thread");
        goto fail;
    }
    l->started = true;
    *ret = l;
    return 0;
fail:
    tp_lease_destroy(&l);
    return r;
}

uint64_t tp_lease_held(tp_lease_t *l, unsigned p) {
    return tp_lease_held_for(l, p, NULL);
}

uint64_t tp_lease_held_for(tp_lease_t *l, unsigned p, int64_t *ret_ms) {
    int64_t now = s_now_ms();
    pthread_mutex_lock(&l->mu);
    uint64_t g = p < l->count && now < l->valid_ms[p] ? l->gen[p] : 0;
    int64_t  left = g ? l->valid_ms[p] - now : 0;
    pthread_mutex_unlock(&l->mu);
    if (ret_ms)
        *ret_ms = left;
    return g;
}

bool tp_lease_releasing(tp_lease_t *l, unsigned p, int64_t *ret_ms) {
    int64_t now = s_now_ms();
    pthread_mutex_lock(&l->mu);
    bool r = p < l->count && l->gen[p] == 0 && l->draining[p] && !l->idle_seen[p] &&
             now < l->valid_ms[p];
    *ret_ms = r ? l->valid_ms[p] - now : 0;
    pthread_mutex_unlock(&l->mu);
    return r;
}

void tp_lease_not_serving(tp_lease_t *l, unsigned p) {
    pthread_mutex_lock(&l->mu);
    if (p < l->count && l->gen[p] == 0)
        l->idle_seen[p] = true;
    pthread_mutex_unlock(&l->mu);
}

void tp_lease_get_stats(tp_lease_t *l, tp_lease_stats_t *ret) {
    pthread_mutex_lock(&l->mu);
    *ret = l->stats;
    pthread_mutex_unlock(&l->mu);
}

void tp_lease_destroy(tp_lease_t **pp) {
    tp_lease_t *l = pp ? *pp : NULL;
    if (!l)
        return;
    if (l->started) {
        pthread_mutex_lock(&l->mu);
        l->stop = true;
        pthread_cond_signal(&l->cond);
        pthread_mutex_unlock(&l->mu);
        pthread_join(l->thread, NULL);
        /* A clean stop hands the partitions over now, not after the TTL;
         * only keys that still name us (one lost unnoticed is someone
         * else's now). */
        for (unsigned p = 0; p < l->count; p++) {
            char     key[32];
            uint64_t rev;
            s_key(key, sizeof key, p);
            if ((l->gen[p] || l->draining[p]) && s_still_ours(l, key, &rev) > 0)
                kvStore_Delete(l->kv, key);
        }
        kvStore_Delete(l->kv, l->member_key);
    }
    kvStore_Destroy(l->kv);
    jsCtx_Destroy(l->js);
    free(l->instance);
    free(l->draining);
    free(l->idle_seen);
    free(l->free_rounds);
    free(l->gen);
    free(l->valid_ms);
    free(l->rev);
    free(l->renewed_ms);
    pthread_cond_destroy(&l->cond);
    pthread_mutex_destroy(&l->mu);
    free(l);
    *pp = NULL;
}
