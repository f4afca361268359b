/* bench_alloc — counts the allocations a program makes while it says so.
 *
 * A program linked with the library tpalloccount gets the link-time
 * wrappers of malloc, calloc, realloc and strdup (the library carries the
 * --wrap options): each call made while bench_alloc_counting is true adds
 * one to bench_allocs. bench_engine reports mallocs per event with it;
 * tests/unit/engine/test_engine_allocs.c asserts there are none for an
 * event that changes no alert. One thread: the counter is not atomic.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

extern uint64_t bench_allocs;         /* made while counting, since the start */
extern bool     bench_alloc_counting; /* set around the code to count */
