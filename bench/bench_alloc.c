/* bench_alloc — see bench_alloc.h. */
#include "bench_alloc.h"

#include <stdlib.h>
#include <string.h>

uint64_t bench_allocs;
bool     bench_alloc_counting;

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);

void *__wrap_malloc(size_t n) {
    bench_allocs += bench_alloc_counting;
    return __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size) {
    bench_allocs += bench_alloc_counting;
    return __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n) {
    bench_allocs += bench_alloc_counting;
    return __real_realloc(p, n);
}

char *__wrap_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char  *p = __wrap_malloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}
