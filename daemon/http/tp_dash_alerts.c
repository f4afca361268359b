/* tp_dash_alerts — see tp_dash_alerts.h. */
#include "tp_dash_alerts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tp_json.h"

typedef Touchpoint__V1__Alert Alert;

struct tp_dash_alerts {
    tp_dash_alert_t *open; /* uthash by alert_id */
    size_t           n_open;
    tp_dash_alert_t *ring[TP_DASH_RESUME_RING]; /* oldest at ring_head */
    size_t           ring_head, ring_len;
    tp_dash_alert_t *pending, **pending_tail; /* raised, not yet published */
    uint64_t         last_seq;
};

static const char *s_evidence(const Alert *al, const char *key) {
    for (size_t i = 0; i < al->n_evidence; i++)
        if (!strcmp(al->evidence[i]->key, key))
            return al->evidence[i]->value;
    return "";
}

/* One allocation: the record, the packed bytes, the strings. */
static tp_dash_alert_t *s_record(const char *topic, const uint8_t *buf, size_t len,
                                 const Alert *al) {
    const char *str[TP_DA__COUNT] = {
        [TP_DA_ID] = al->alert_id,
        [TP_DA_RULE] = al->rule,
        [TP_DA_TERRITORY] = al->territory,
        [TP_DA_REP] = al->rep_id,
        [TP_DA_HCP] = al->hcp_id,
        [TP_DA_CONTRACT] = al->contract_id,
        [TP_DA_CALL] = al->call_id,
        [TP_DA_STEP] = al->step,
        [TP_DA_CTYPE] = s_evidence(al, "contract_type"),
        [TP_DA_NPS] = s_evidence(al, "nps"),
        [TP_DA_EFFORT] = s_evidence(al, "effort_score"),
        [TP_DA_FEEDBACK_AT] = s_evidence(al, "feedback_at"),
        [TP_DA_DUE_AT] = s_evidence(al, "due_at"),
        [TP_DA_TOPIC] = topic,
    };
    size_t sl[TP_DA__COUNT], total = len;
    for (int i = 0; i < TP_DA__COUNT; i++) {
        if (!str[i])
            str[i] = "";
        total += (sl[i] = strlen(str[i])) + 1;
    }
    tp_dash_alert_t *a = malloc(sizeof *a + total);
    if (!a)
        return NULL;
    memset(a, 0, sizeof *a);
    a->seq = al->sequence;
    a->kind = al->kind;
    a->status = al->status;
    a->len = len;
    memcpy(a->packed, buf, len);
    char *p = (char *)a->packed + len;
    for (int i = 0; i < TP_DA__COUNT; i++) {
        memcpy(p, str[i], sl[i] + 1);
        a->s[i] = p;
        p += sl[i] + 1;
    }
    return a;
}

/* The slow path: no record was made when it was raised. */
static tp_dash_alert_t *s_unpacked(const char *topic, const uint8_t *buf, size_t len) {
    Alert *al = touchpoint__v1__alert__unpack(NULL, len, buf);
    if (!al)
        return NULL;
    char t[160];
    if (!topic) {
        snprintf(t, sizeof t, "%s.%s", tp_alert_kind_prefix(al->kind), al->rule);
        topic = t;
    }
    tp_dash_alert_t *a = s_record(topic, buf, len, al);
    protobuf_c_message_free_unpacked(&al->base, NULL);
    return a;
}

tp_dash_alert_t *tp_dash_alert_ref(tp_dash_alert_t *a) {
    a->refs++;
    return a;
}

void tp_dash_alert_unref(tp_dash_alert_t *a) {
    if (a && --a->refs == 0) {
        free(a->json);
        free(a);
    }
}

const char *tp_dash_alert_json(tp_dash_alert_t *a) {
    if (a->json)
        return a->json;
    Alert      *al = touchpoint__v1__alert__unpack(NULL, a->len, a->packed);
    const char *topic = a->s[TP_DA_TOPIC];
    if (al && tp_json_dumps_alert(topic, strlen(topic), &al->base, &a->json) < 0)
        a->json = NULL;
    if (al)
        protobuf_c_message_free_unpacked(&al->base, NULL);
    return a->json ? a->json : "{}";
}

int tp_dash_alerts_new(tp_dash_alerts_t **ret) {
    tp_dash_alerts_t *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->pending_tail = &s->pending;
    *ret = s;
    return 0;
}

int tp_dash_alerts_raised(tp_dash_alerts_t *s, const char *topic, const uint8_t *buf, size_t len,
                          const Alert *al) {
    tp_dash_alert_t *a = s_record(topic, buf, len, al);
    if (!a)
        return -ENOMEM;
    a->refs = 1; /* the pending list's */
    *s->pending_tail = a;
    s->pending_tail = &a->next_pending;
    return 0;
}

/* The pending record of buf/len. Alerts are published in the order they
 * were raised; one raised but never published (its journal append failed)
 * is dropped on the way. */
static tp_dash_alert_t *s_take_pending(tp_dash_alerts_t *s, const uint8_t *buf, size_t len) {
    tp_dash_alert_t *a = s->pending;
    while (a && (a->len != len || memcmp(a->packed, buf, len) != 0))
        a = a->next_pending;
    if (!a)
        return NULL; /* none of them: keep them, it came from elsewhere */
    while (s->pending != a) {
        tp_dash_alert_t *skipped = s->pending;
        s->pending = skipped->next_pending;
        tp_dash_alert_unref(skipped);
    }
    s->pending = a->next_pending;
    if (!s->pending)
        s->pending_tail = &s->pending;
    a->next_pending = NULL;
    a->refs--; /* no longer the pending list's */
    return a;
}

static void s_ring_push(tp_dash_alerts_t *s, tp_dash_alert_t *a) {
    a->refs++;
    if (s->ring_len == TP_DASH_RESUME_RING) {
        tp_dash_alert_unref(s->ring[s->ring_head]);
        s->ring[s->ring_head] = a;
        s->ring_head = (s->ring_head + 1) % TP_DASH_RESUME_RING;
        return;
    }
    s->ring[(s->ring_head + s->ring_len++) % TP_DASH_RESUME_RING] = a;
}

/* The open table follows the transition. */
static void s_apply(tp_dash_alerts_t *s, tp_dash_alert_t *a) {
    tp_dash_alert_t *o;
    HASH_FIND_STR(s->open, a->s[TP_DA_ID], o);
    if (o) {
        HASH_DEL(s->open, o);
        s->n_open--;
        tp_dash_alert_unref(o);
    }
    if (a->status == TOUCHPOINT__V1__ALERT_STATUS__ALERT_STATUS_FIRING) {
        HASH_ADD_KEYPTR(hh, s->open, a->s[TP_DA_ID], strlen(a->s[TP_DA_ID]), a);
        s->n_open++;
        a->refs++;
    }
    if (a->seq > s->last_seq)
        s->last_seq = a->seq;
}

tp_dash_alert_t *tp_dash_alerts_published(tp_dash_alerts_t *s, const char *topic,
                                          const uint8_t *buf, size_t len) {
    tp_dash_alert_t *a = s_take_pending(s, buf, len);
    if (!a && !(a = s_unpacked(topic, buf, len)))
        return NULL;
    a->refs++; /* the caller's */
    s_apply(s, a);
    s_ring_push(s, a);
    return a;
}

int tp_dash_alerts_seed(tp_dash_alerts_t *s, const uint8_t *buf, size_t len) {
    tp_dash_alert_t *a = s_unpacked(NULL, buf, len);
    if (!a)
        return -ENOMEM;
    a->refs = 1;
    s_apply(s, a);
    tp_dash_alert_unref(a);
    return 0;
}

tp_dash_alert_t *tp_dash_alerts_open(const tp_dash_alerts_t *s) {
    return s->open;
}

size_t tp_dash_alerts_count(const tp_dash_alerts_t *s) {
    return s->n_open;
}

uint64_t tp_dash_alerts_last_seq(const tp_dash_alerts_t *s) {
    return s->last_seq;
}

bool tp_dash_alerts_since(tp_dash_alerts_t *s, uint64_t                    after,
                          void (*fn)(void *ctx, tp_dash_alert_t *a), void *ctx) {
    if (after > s->last_seq)
        return false; /* numbers from elsewhere (another daemon) */
    if (after < s->last_seq && (!s->ring_len || s->ring[s->ring_head]->seq > after + 1))
        return false; /* the ring lost some */
    for (size_t i = 0; i < s->ring_len; i++) {
        tp_dash_alert_t *a = s->ring[(s->ring_head + i) % TP_DASH_RESUME_RING];
        if (a->seq > after)
            fn(ctx, a);
    }
    return true;
}

void tp_dash_alerts_clear(tp_dash_alerts_t *s) {
    while (s->pending) {
        tp_dash_alert_t *a = s->pending;
        s->pending = a->next_pending;
        tp_dash_alert_unref(a);
    }
    s->pending_tail = &s->pending;
    for (size_t i = 0; i < s->ring_len; i++)
        tp_dash_alert_unref(s->ring[(s->ring_head + i) % TP_DASH_RESUME_RING]);
    s->ring_len = s->ring_head = 0;
    tp_dash_alert_t *a, *tmp;
    HASH_ITER(hh, s->open, a, tmp) {
        HASH_DEL(s->open, a);
        tp_dash_alert_unref(a);
    }
    s->n_open = 0;
    s->last_seq = 0;
}

void tp_dash_alerts_destroy(tp_dash_alerts_t **p) {
    tp_dash_alerts_t *s = p ? *p : NULL;
    if (!s)
        return;
    tp_dash_alerts_clear(s);
    free(s);
    *p = NULL;
}
