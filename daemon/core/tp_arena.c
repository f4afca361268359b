/* tp_arena — see tp_arena.h. */
#include "tp_arena.h"

#include <errno.h>
#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>

/* A request that did not fit the block: freed at the next reset. */
typedef struct s_chunk {
    struct s_chunk *next;
    max_align_t     data[];
} s_chunk_t;

struct tp_arena {
    ProtobufCAllocator alloc;  /* first: the allocator_data points back here */
    size_t             used;   /* bytes of block handed out since the reset */
    size_t             size;   /* bytes in block */
    s_chunk_t         *chunks; /* overflow, newest first */
    max_align_t        block[];
};

#define ALIGN alignof(max_align_t)

static void *s_alloc(void *data, size_t n) {
    tp_arena_t *a = data;
    size_t      need = (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    if (need >= n && a->size - a->used >= need) {
        void *p = (unsigned char *)a->block + a->used;
        a->used += need;
        return p;
    }
    if (n > SIZE_MAX - sizeof(s_chunk_t))
        return NULL;
    s_chunk_t *c = malloc(sizeof *c + n);
    if (!c)
        return NULL;
    c->next = a->chunks;
    a->chunks = c;
    return c->data;
}

/* Individual frees are what the arena exists to avoid: reset frees all. */
static void s_free(void *data, void *p) {
    (void)data;
    (void)p;
}

int tp_arena_new(size_t block, tp_arena_t **ret) {
    if (block > SIZE_MAX - sizeof(tp_arena_t) - ALIGN)
        return -ENOMEM;
    block = (block + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    tp_arena_t *a = malloc(sizeof *a + block);
    if (!a)
        return -ENOMEM;
    *a = (tp_arena_t){ .alloc = { .alloc = s_alloc, .free = s_free }, .size = block };
    a->alloc.allocator_data = a;
    *ret = a;
    return 0;
}

ProtobufCAllocator *tp_arena_allocator(tp_arena_t *a) {
    return &a->alloc;
}

void tp_arena_reset(tp_arena_t *a) {
    while (a->chunks) {
        s_chunk_t *c = a->chunks;
        a->chunks = c->next;
        free(c);
    }
    a->used = 0;
}

void tp_arena_destroy(tp_arena_t **p) {
    tp_arena_t *a = p ? *p : NULL;
    if (!a)
        return;
    tp_arena_reset(a);
    free(a);
    *p = NULL;
}
