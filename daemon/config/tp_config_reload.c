/* tp_config_reload — which keys a SIGHUP reload cannot change.
 *
 * Some settings size or define what is built once at start: the state
 * directory and its journal, the CURVE identity, the engine's clock and
 * tables, JetStream's connection, streams and consumers. A reload that
 * changes one is refused whole (the daemon keeps its old config); this is
 * the one list of them, compared through the key table so each key is
 * named as the operator writes it. Called by the daemon's reload and, as
 * its own guard, by the engine's.
 */
#include <stdbool.h>
#include <string.h>

#include "tp_config_internal.h"

/* Restart-only keys; every nats.* key too, while JetStream mode is on. */
static const char *const s_restart_only[] = {
    "state_dir",           "journal.enabled",    "curve.secret_key_file", "clock",
    "limits.dedup_window", "limits.max_sources", "nats.enabled",
};

/* Equal strings, NULL equal only to NULL (unset optional keys). */
static bool s_same_str(const char *a, const char *b) {
    return a && b ? strcmp(a, b) == 0 : a == b;
}

/* Does key k hold the same value in a and b? */
static bool s_same(const tp_config_key_t *k, const tp_config_t *a, const tp_config_t *b) {
    const char *pa = (const char *)a + k->off, *pb = (const char *)b + k->off;
    switch (k->type) {
    case TP_CONFIG_STRING:
    case TP_CONFIG_OPT_STRING:
    case TP_CONFIG_ENDPOINT:
    case TP_CONFIG_LISTEN:
    case TP_CONFIG_Z85: return s_same_str(*(char *const *)pa, *(char *const *)pb);
    case TP_CONFIG_PARTITIONS:
        return a->nats.n_partitions == b->nats.n_partitions &&
               memcmp(a->nats.partitions, b->nats.partitions,
                      a->nats.n_partitions * sizeof a->nats.partitions[0]) == 0;
    default:
        /* Scalars (bool, integers, durations, enums): the bytes. */
        return memcmp(pa, pb, k->size) == 0;
    }
}

static const tp_config_key_t *s_key(const char *path) {
    for (size_t i = 0; i < tp_config_n_keys; i++)
        if (strcmp(tp_config_keys[i].path, path) == 0)
            return &tp_config_keys[i];
    return NULL;
}

const char *tp_config_restart_key(const tp_config_t *old, const tp_config_t *next) {
    for (size_t i = 0; i < sizeof s_restart_only / sizeof s_restart_only[0]; i++) {
        const tp_config_key_t *k = s_key(s_restart_only[i]);
        if (k && !s_same(k, old, next))
            return k->path;
    }
    if (!old->nats.enabled)
        return NULL;
    for (size_t i = 0; i < tp_config_n_keys; i++)
        if (strncmp(tp_config_keys[i].path, "nats.", 5) == 0 &&
            !s_same(&tp_config_keys[i], old, next))
            return tp_config_keys[i].path;
    return NULL;
}
