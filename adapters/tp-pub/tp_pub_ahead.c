/* tp_pub_ahead — see tp_pub_ahead.h. */
#include "tp_pub_ahead.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "tp_input.h"
#include "tp_json.h"
#include "touchpoint/v1/events.pb-c.h"

#define CHUNK_LINES 256 /* lines per chunk: one lock round per chunk, not per line */
#define MAX_WORKERS 8

/* One line's outcome. */
typedef struct {
    int                 r; /* 1 event, -EINVAL bad line (err), other <0 the input failed */
    struct tp_pub_event ev;
    size_t              lineno;
    char               *err; /* malloc'd reason of a bad line */
} s_item_t;

typedef struct {
    uint64_t seq;   /* which chunk of the file this slot holds */
    bool     ready; /* decoded, for the caller to take */
    size_t   n, taken;
    s_item_t items[CHUNK_LINES];
    char    *text[CHUNK_LINES]; /* the lines as read, decoded outside the lock */
    size_t   len[CHUNK_LINES];
} s_slot_t;

struct tp_pub_ahead {
    FILE           *in;
    size_t          max_bytes;
    const char     *id_why;
    pthread_mutex_t mu;
    pthread_cond_t  cond;
    bool            eof, stop;
    size_t          lineno;   /* physical lines read so far */
    uint64_t        next_seq; /* the next chunk a worker reads */
    uint64_t        cur;      /* the chunk the caller takes from */
    unsigned        n_slots, n_workers;
    s_slot_t       *slots; /* chunk seq lives in slots[seq % n_slots] */
    pthread_t       workers[MAX_WORKERS];
};

static void s_item_clear(s_item_t *it) {
    tp_pub_event_clear(&it->ev);
    free(it->err);
    *it = (s_item_t){ 0 };
}

/* Under the lock: the next chunk's lines into slot s (their text only). */
static void s_read_chunk(tp_pub_ahead_t *a, s_slot_t *s) {
    s->n = s->taken = 0;
    while (s->n < CHUNK_LINES && !a->eof) {
        char  *line = NULL;
        size_t cap = 0;
        errno = 0;
        ssize_t len = getline(&line, &cap, a->in);
        if (len < 0) {
            free(line);
            a->eof = true;
            if (ferror(a->in)) {
                s_item_t *it = &s->items[s->n];
                *it = (s_item_t){ .r = errno ? -errno : -EIO, .lineno = a->lineno };
                s->text[s->n++] = NULL;
            }
            break;
        }
        a->lineno++;
        if (tp_input_blank_line(line, (size_t)len)) {
            free(line);
            continue;
        }
        s->items[s->n] = (s_item_t){ .r = 0, .lineno = a->lineno };
        s->len[s->n] = (size_t)len;
        s->text[s->n++] = line;
    }
}

/* Outside the lock: each line of the chunk decoded and packed. */
static void s_decode_chunk(tp_pub_ahead_t *a, s_slot_t *s) {
    for (size_t i = 0; i < s->n; i++) {
        s_item_t *it = &s->items[i];
        if (!s->text[i])
            continue; /* the read error, as recorded */
        char              err[512] = "";
        ProtobufCMessage *msg = NULL;
        int               r;
        if (s->len[i] > a->max_bytes) {
            snprintf(err, sizeof err, "line longer than %zu bytes", a->max_bytes);
            r = -EINVAL;
        } else {
            r = tp_json_parse_message(s->text[i], s->len[i], &touchpoint__v1__envelope__descriptor,
                                      err, sizeof err, &msg);
        }
        if (r >= 0)
            r = tp_pub_pack(msg, a->id_why, it->lineno, err, sizeof err, &it->ev);
        it->r = r < 0 ? r : 1;
        if (r == -EINVAL && !(it->err = strdup(err)))
            it->r = -ENOMEM;
        free(s->text[i]);
        s->text[i] = NULL;
    }
}

static void *s_worker(void *arg) {
    tp_pub_ahead_t *a = arg;
    pthread_mutex_lock(&a->mu);
    for (;;) {
        /* Not more than n_slots chunks ahead of the caller. */
        while (!a->stop && !a->eof && a->next_seq - a->cur >= a->n_slots)
            pthread_cond_wait(&a->cond, &a->mu);
        if (a->stop || a->eof)
            break;
        uint64_t  seq = a->next_seq++;
        s_slot_t *s = &a->slots[seq % a->n_slots];
        s->seq = seq;
        s_read_chunk(a, s);
        pthread_mutex_unlock(&a->mu);
        s_decode_chunk(a, s);
        pthread_mutex_lock(&a->mu);
        s->ready = true;
        pthread_cond_broadcast(&a->cond);
    }
    pthread_cond_broadcast(&a->cond); /* the caller may wait for the end */
    pthread_mutex_unlock(&a->mu);
    return NULL;
}

int tp_pub_ahead_new(FILE *in, size_t max_bytes, unsigned workers, const char *id_why,
                     tp_pub_ahead_t **ret) {
    tp_pub_ahead_t *a = calloc(1, sizeof *a);
    if (!a)
        return -ENOMEM;
    workers = workers < 1 ? 1 : workers > MAX_WORKERS ? MAX_WORKERS : workers;
    *a = (tp_pub_ahead_t){ .in = in, .max_bytes = max_bytes, .id_why = id_why };
    a->n_slots = 2 * workers + 2;
    a->slots = calloc(a->n_slots, sizeof *a->slots);
    if (!a->slots) {
        free(a);
        return -ENOMEM;
    }
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->cond, NULL);
    for (unsigned i = 0; i < workers; i++) {
        int r = pthread_create(&a->workers[i], NULL, s_worker, a);
        if (r != 0) {
            tp_pub_ahead_destroy(&a);
            return -r;
        }
        a->n_workers++;
    }
    *ret = a;
    return 0;
}

int tp_pub_ahead_next(tp_pub_ahead_t *a, struct tp_pub_event *ret, size_t *ret_line, char *err,
                      size_t errlen) {
    pthread_mutex_lock(&a->mu);
    for (;;) {
        s_slot_t *s = &a->slots[a->cur % a->n_slots];
        while (!(s->ready && s->seq == a->cur) && !(a->eof && a->cur == a->next_seq))
            pthread_cond_wait(&a->cond, &a->mu);
        if (!s->ready || s->seq != a->cur) { /* every chunk taken, nothing more to read */
            pthread_mutex_unlock(&a->mu);
            return 0;
        }
        if (s->taken < s->n) {
            pthread_mutex_unlock(&a->mu); /* the slot is ours until cur moves on */
            s_item_t *it = &s->items[s->taken++];
            int       r = it->r;
            *ret_line = it->lineno;
            if (r == 1) {
                *ret = it->ev;
                it->ev = (struct tp_pub_event){ 0 };
            } else if (r == -EINVAL) {
                snprintf(err, errlen, "%s", it->err ? it->err : "");
            }
            s_item_clear(it);
            return r;
        }
        s->ready = false;
        a->cur++;
        pthread_cond_broadcast(&a->cond);
    }
}

void tp_pub_ahead_destroy(tp_pub_ahead_t **p) {
    tp_pub_ahead_t *a = p ? *p : NULL;
    if (!a)
        return;
    pthread_mutex_lock(&a->mu);
    a->stop = true;
    pthread_cond_broadcast(&a->cond);
    pthread_mutex_unlock(&a->mu);
    for (unsigned i = 0; i < a->n_workers; i++)
        pthread_join(a->workers[i], NULL);
    for (unsigned i = 0; i < a->n_slots; i++) {
        s_slot_t *s = &a->slots[i];
        for (size_t j = 0; j < s->n; j++) {
            s_item_clear(&s->items[j]);
            free(s->text[j]);
        }
    }
    free(a->slots);
    pthread_cond_destroy(&a->cond);
    pthread_mutex_destroy(&a->mu);
    free(a);
    *p = NULL;
}
