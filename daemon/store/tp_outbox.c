/* tp_outbox — see tp_outbox.h. */
#include "tp_outbox.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { OUT_ALERT, OUT_ACK, OUT_HTTP, OUT_NATS };

typedef struct s_item {
    struct s_item    *next;
    int               kind;   /* OUT_* */
    bool              sealed; /* pos is set: it waits for the commit up to pos */
    uint64_t          pos;
    tp_outbox_done_fn done; /* OUT_HTTP: called with the commit's outcome */
    void             *arg;  /* OUT_HTTP: done's argument; OUT_NATS: the message */
    size_t            len;  /* body length, or identity length for an ACK */
    char             *str;  /* topic, or the acknowledged event_id */
    unsigned char     body[];
} s_item_t;

struct tp_outbox {
    s_item_t              *head, **tail, *last;
    s_item_t              *unsealed; /* the first item not sealed yet, or NULL */
    const tp_outbox_ops_t *ops;
    void                  *ctx;
};

int tp_outbox_new(const tp_outbox_ops_t *ops, void *ctx, tp_outbox_t **ret) {
    tp_outbox_t *ob = calloc(1, sizeof *ob);
    if (!ob)
        return -ENOMEM;
    ob->tail = &ob->head;
    ob->ops = ops;
    ob->ctx = ctx;
    *ret = ob;
    return 0;
}

/* Queues an item holding a copy of body and of the string str. */
static s_item_t *s_push(tp_outbox_t *ob, int kind, const void *body, size_t len, const char *str) {
    size_t    sl = strlen(str) + 1;
    s_item_t *it = calloc(1, sizeof *it + len + sl);
    if (!it)
        return NULL;
    it->kind = kind;
    it->len = len;
    if (len) /* an HTTP reply has no body: NULL, which memcpy may not take */
        memcpy(it->body, body, len);
    it->str = (char *)it->body + len;
    memcpy(it->str, str, sl);
    *ob->tail = it;
    ob->tail = &it->next;
    ob->last = it;
    if (!ob->unsealed)
        ob->unsealed = it;
    return it;
}

int tp_outbox_alert(tp_outbox_t *ob, const char *topic, const void *body, size_t len) {
    return s_push(ob, OUT_ALERT, body, len, topic) ? 0 : -ENOMEM;
}

int tp_outbox_ack(tp_outbox_t *ob, const void *identity, size_t len, const char *event_id) {
    return s_push(ob, OUT_ACK, identity, len, event_id) ? 0 : -ENOMEM;
}

int tp_outbox_http(tp_outbox_t *ob, tp_outbox_done_fn done, void *arg) {
    s_item_t *it = s_push(ob, OUT_HTTP, NULL, 0, "");
    if (!it)
        return -ENOMEM;
    it->done = done;
    it->arg = arg;
    return 0;
}

int tp_outbox_nats(tp_outbox_t *ob, void *msg) {
    s_item_t *it = s_push(ob, OUT_NATS, NULL, 0, "");
    if (!it)
        return -ENOMEM;
    it->arg = msg;
    return 0;
}

/* Re-finds the tail (and forgets `last`) after items were taken out. */
static void s_retail(tp_outbox_t *ob) {
    s_item_t **pp = &ob->head;
    while (*pp)
        pp = &(*pp)->next;
    ob->tail = pp;
    ob->last = NULL;
}

void tp_outbox_drop_last(tp_outbox_t *ob) {
    s_item_t **pp = &ob->head;
    while (*pp && *pp != ob->last)
        pp = &(*pp)->next;
    if (!*pp)
        return;
    s_item_t *it = *pp;
    *pp = it->next;
    if (ob->unsealed == it) /* the last one: none after it */
        ob->unsealed = NULL;
    free(it);
    s_retail(ob);
}

void tp_outbox_fail_http(tp_outbox_t *ob, int r) {
    s_item_t **pp = &ob->head;
    while (*pp) {
        s_item_t *it = *pp;
        if (it->kind != OUT_HTTP) {
            pp = &it->next;
            continue;
        }
        *pp = it->next;
        if (ob->unsealed == it) /* those after it are not sealed either */
            ob->unsealed = it->next;
        it->done(it->arg, r);
        free(it);
    }
    s_retail(ob);
}

void tp_outbox_seal(tp_outbox_t *ob, uint64_t pos) {
    for (s_item_t *it = ob->unsealed; it; it = it->next) {
        it->sealed = true;
        it->pos = pos;
    }
    ob->unsealed = NULL;
}

bool tp_outbox_unsealed(const tp_outbox_t *ob) {
    return ob->unsealed != NULL;
}

/* Delivers from the head: everything (all), or the sealed items whose
 * commit position is passed. */
static void s_deliver(tp_outbox_t *ob, bool all, uint64_t committed) {
    while (ob->head && (all || (ob->head->sealed && ob->head->pos <= committed))) {
        s_item_t *it = ob->head;
        ob->head = it->next;
        if (ob->unsealed == it)
            ob->unsealed = it->next;
        if (ob->last == it)
            ob->last = NULL;
        switch (it->kind) {
        case OUT_ACK: ob->ops->ack(ob->ctx, it->body, it->len, it->str); break;
        case OUT_HTTP: it->done(it->arg, 0); break;
        case OUT_NATS: ob->ops->nats(ob->ctx, it->arg, true); break;
        default: ob->ops->alert(ob->ctx, it->str, it->body, it->len); break;
        }
        free(it);
    }
    if (!ob->head) {
        ob->tail = &ob->head;
        ob->last = NULL;
    }
}

void tp_outbox_deliver(tp_outbox_t *ob) {
    s_deliver(ob, true, 0);
}

void tp_outbox_deliver_upto(tp_outbox_t *ob, uint64_t committed) {
    s_deliver(ob, false, committed);
}

void tp_outbox_destroy(tp_outbox_t **p) {
    tp_outbox_t *ob = p ? *p : NULL;
    if (!ob)
        return;
    while (ob->head) {
        s_item_t *it = ob->head;
        ob->head = it->next;
        if (it->kind == OUT_NATS)
            ob->ops->nats(ob->ctx, it->arg, false); /* not stored: redelivered */
        free(it);
    }
    free(ob);
    *p = NULL;
}
