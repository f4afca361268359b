/* tp_partition — see tp_partition.h. */
#include "tp_partition.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

uint32_t tp_fnv1a32(const char *s) {
    uint32_t h = 2166136261u;
    for (; *s; s++) {
        h ^= (uint8_t)*s;
        h *= 16777619u;
    }
    return h;
}

unsigned tp_partition_of(const char *key, unsigned count) {
    return count ? tp_fnv1a32(key) % count : 0;
}

const char *tp_partition_key(const Touchpoint__V1__Envelope *env) {
    switch (env->payload_case) {
    case TOUCHPOINT__V1__ENVELOPE__PAYLOAD_CALL: return env->call->hcp_id;
    case TOUCHPOINT__V1__ENVELOPE__PAYLOAD_FEEDBACK: return env->feedback->hcp_id;
    case TOUCHPOINT__V1__ENVELOPE__PAYLOAD_CONTRACTING: {
        const Touchpoint__V1__ContractingStep *s = env->contracting;
        return s->hcp_id && *s->hcp_id ? s->hcp_id : s->contract_id;
    }
    default: return NULL;
    }
}

int tp_partition_subject(char *buf, size_t len, unsigned partition, const char *topic) {
    if (strncmp(topic, "crm.", 4) != 0 || !topic[4] || strchr(topic + 4, '.'))
        return -EINVAL;
    int n = snprintf(buf, len, TP_EVENTS_SUBJECT_PREFIX "%u.%s", partition, topic + 4);
    return n < 0 || (size_t)n >= len ? -ENOBUFS : 0;
}

int tp_partition_topic(char *buf, size_t len, const char *subject) {
    size_t pl = strlen(TP_EVENTS_SUBJECT_PREFIX);
    if (strncmp(subject, TP_EVENTS_SUBJECT_PREFIX, pl) != 0)
        return -EINVAL;
    const char *kind = strchr(subject + pl, '.');
    if (!kind || kind == subject + pl || !kind[1])
        return -EINVAL;
    int n = snprintf(buf, len, "crm.%s", kind + 1);
    return n < 0 || (size_t)n >= len ? -EINVAL : 0;
}
