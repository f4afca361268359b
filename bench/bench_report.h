/* bench_report — bench_e2e's results: the table it prints, the JSON it
 * writes, and the targets of issue 8 each is checked against. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef struct {
    const char *name;      /* "ipc" | "tcp" */
    double      raw_per_s; /* libzmq PUB -> SUB, the same frames */
    double      off_per_s; /* touchpointd end to end, journal off */
    double      on_per_s;  /* journal on */
} bench_tp_t;

typedef struct {
    bool   journal;
    double rate, achieved; /* offered events/s: asked, and as sent */
    size_t samples, lost;  /* latency probes answered, and not */
    double p50_us, p99_us, p999_us, max_us;
} bench_lat_t;

typedef struct {
    size_t open; /* open calls, and open cases, in the big daemon */
    size_t calls_held;
    double bytes_per_call; /* VmRSS growth per open call */
    double bytes_per_case; /* per open case (one started step) */
    double small_per_s;    /* the mix with 1,000 of each open */
    double big_per_s;      /* with `open` of each open */
} bench_open_t;

typedef struct {
    size_t       events; /* per throughput run */
    size_t       open;
    int          reps;        /* best of */
    double       frame_bytes; /* mean topic + Envelope bytes of the mix */
    bench_tp_t   transport[2];
    bench_lat_t  lat[6]; /* 10k, 50k, 100k events/s; journal off, on */
    bench_open_t open_state;
} bench_result_t;

void bench_report_print(const bench_result_t *r, FILE *out);

/* Writes the results as one JSON object; 0 or -errno. */
int bench_report_json(const bench_result_t *r, const char *path);
