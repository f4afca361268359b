/* bench_engine — does the cost per event stay flat as open calls grow?
 *
 * For each size N (1,000 and 1,000,000 by default), builds an engine with
 * every rule enabled in `event` clock mode, opens N PLANNED calls (each
 * with a call_unsubmitted deadline and a retention deadline armed), then
 * times 200,000 pre-packed events: new planned calls, complete and
 * incomplete submissions of open calls, and feedback. Two workloads:
 * "hot" events are about the same 1,000 calls whatever N (the per-event
 * cost with N open calls present: what "flat" means), "spread" events are
 * about all N (so at 1M nearly every lookup misses the CPU caches).
 * Reports events/s, the ratio to the smallest N in the same run, and heap
 * bytes per open call (mallinfo2, allocator overhead included). No sockets: this isolates the rule engine; the
 * end-to-end benchmark against raw ZeroMQ is a separate target.
 *
 * Also counts mallocs per event (the workload's, and a steady stream that
 * changes no alert).
 *
 * Usage: bench_engine [N ...]   (prints a table, then one JSON line)
 * BENCH_LUA_RULES=0|1|3 runs 0 (default), 1 (notes_quality) or 3 of the
 * example Lua rules of examples/rules/ beside the built-in ones.
 * Environment: BENCH_WORKLOAD=hot|spread (only that one, then the steady
 * stream; for callgrind), BENCH_WORKLOAD=steady (only the steady stream,
 * its 20,000 measured events instrumented), BENCH_WORKLOAD=complete (the
 * hot run with only complete submissions of open in-person calls: the
 * dearest event for notes_quality that fires nothing; for callgrind),
 * BENCH_EVENTS=n (events per workload), BENCH_KPI=1 (KPI observer on in the
 * workloads), BENCH_DIGEST=1 (print a digest of every alert published by the
 * workloads and the steady stream: same digest, same alerts).
 */
#include <malloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_alloc.h"
#include "tp_engine.h"
#include "tp_hash.h"
#include "tp_kpi.h"
#include "tp_log.h"

/* Under `valgrind --tool=callgrind --instr-atstart=no` only the timed
 * workload is instrumented, so instruction counts per event at 1k and 1M
 * open calls compare the algorithm, free of cache and machine noise. */
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#else
#define CALLGRIND_START_INSTRUMENTATION ((void)0)
#define CALLGRIND_STOP_INSTRUMENTATION  ((void)0)
#endif

#define T0 1767225600000LL
#define D  86400000LL

/* Events per timed workload: 200,000, or BENCH_EVENTS (callgrind runs use
 * fewer). */
static size_t s_work = 200000;

/* Allocations made by the project's code inside tp_engine_handle
 * (bench_alloc: link-time wrappers of the allocator): mallocs per event. */
typedef struct {
    uint8_t    *buf;
    size_t      len;
    const char *topic;
} frame_t;

/* Sets e's event id, source and time and packs it into *ret (malloc'd);
 * the packed length. */
static size_t s_pack_env(uint8_t **ret, Touchpoint__V1__Envelope *e, const char *event_id,
                         const char *source, int64_t at) {
    e->event_id = (char *)event_id;
    e->source = (char *)source;
    e->occurred_at_ms = at;
    size_t len = touchpoint__v1__envelope__get_packed_size(e);
    *ret = malloc(len);
    touchpoint__v1__envelope__pack(e, *ret);
    return len;
}

static size_t s_pack_call(uint8_t **ret, const char *event_id, int64_t at, const char *call_id,
                          const char *hcp, const char *rep, int status, int full, int64_t call_at) {
    static char               *products[] = { "Cardiozan" }, *topics[] = { "dosing" };
    Touchpoint__V1__CallLogged c;
    touchpoint__v1__call_logged__init(&c);
    c.call_id = (char *)call_id;
    c.hcp_id = (char *)hcp;
    c.rep_id = (char *)rep;
    c.account_id = "ACC-BERLIN-042";
    c.territory = "DE-BERLIN";
    c.channel = TOUCHPOINT__V1__CHANNEL__CHANNEL_IN_PERSON;
    c.status = (Touchpoint__V1__CallStatus)status;
    c.call_at_ms = call_at;
    if (full) {
        c.n_products = 1;
        c.products = products;
        c.n_topics = 1;
        c.topics = topics;
        c.notes = "Discussed the renal subgroup data.";
        c.next_step = "Send the reprint.";
    }
    Touchpoint__V1__Envelope e = TOUCHPOINT__V1__ENVELOPE__INIT;
    e.payload_case = TOUCHPOINT__V1__ENVELOPE__PAYLOAD_CALL;
    e.call = &c;
    return s_pack_env(ret, &e, event_id, "veeva-eu", at);
}

static size_t s_pack_feedback(uint8_t **ret, const char *event_id, int64_t at, const char *hcp,
                              int nps, Touchpoint__V1__Channel preferred) {
    Touchpoint__V1__Feedback f;
    touchpoint__v1__feedback__init(&f);
    f.feedback_id = (char *)event_id;
    f.hcp_id = (char *)hcp;
    f.subject_type = "general";
    f.nps_value_case = TOUCHPOINT__V1__FEEDBACK__NPS_VALUE_NPS;
    f.nps = nps;
    f.preferred_channel = preferred;
    f.at_ms = at;
    Touchpoint__V1__Envelope e = TOUCHPOINT__V1__ENVELOPE__INIT;
    e.payload_case = TOUCHPOINT__V1__ENVELOPE__PAYLOAD_FEEDBACK;
    e.feedback = &f;
    return s_pack_env(ret, &e, event_id, "survey", at);
}

static size_t s_pack_step(uint8_t **ret, const char *event_id, int64_t at, const char *contract,
                          const char *step, int state, const char *owner, int ask) {
    Touchpoint__V1__ContractingStep st;
    touchpoint__v1__contracting_step__init(&st);
    st.contract_id = (char *)contract;
    /* One HCP per contract, as in life: a shared one would hit
     * limits.max_open_cases_per_hcp (and hide the per-HCP entry's cost). */
    char hcp[64];
    snprintf(hcp, sizeof hcp, "HCP-%s", contract);
    st.hcp_id = hcp;
    st.rep_id = "REP-017";
    st.contract_type = TOUCHPOINT__V1__CONTRACT_TYPE__CONTRACT_TYPE_SPEAKER;
    st.step = (char *)step;
    st.state = (Touchpoint__V1__StepState)state;
    st.owner_id = (char *)owner;
    st.hcp_action = ask;
    st.at_ms = at;
    Touchpoint__V1__Envelope e = TOUCHPOINT__V1__ENVELOPE__INIT;
    e.payload_case = TOUCHPOINT__V1__ENVELOPE__PAYLOAD_CONTRACTING;
    e.contracting = &st;
    return s_pack_env(ret, &e, event_id, "veeva-contracts", at);
}

static int s_handle(tp_engine_t *e, const frame_t *f) {
    tp_frame_t frames[2] = { { f->topic, strlen(f->topic) }, { f->buf, f->len } };
    bench_alloc_counting = true;
    int r = tp_engine_handle(e, frames, 2);
    bench_alloc_counting = false;
    return r;
}

static int s_handle(tp_engine_t *e, const frame_t *f);

/* Heap bytes per open contracting case: n cases, each with a completed
 * nomination, a started needs assessment (an HCP ask) and a started FMV
 * review, owned by three people; every friction rule enabled, so the
 * figure includes their deadlines (step_slow, case_stalled, retention). */
static double s_case_bytes(size_t n) {
    static const char *yaml = "clock: event\nlimits: { dedup_window: 1 }\n";
    char               err[256], id[48], contract[48];
    tp_config_t       *cfg;
    tp_engine_t       *e;
    if (tp_config_parse(yaml, strlen(yaml), "bench", err, sizeof err, &cfg) < 0 ||
        tp_engine_new(cfg, &e) < 0)
        exit(1);
    size_t before = mallinfo2().uordblks;
    static const struct {
        const char *step, *owner;
        int         state, ask;
    } steps[] = {
        { "NOMINATION", "REP-017", TOUCHPOINT__V1__STEP_STATE__STEP_STATE_COMPLETED, 0 },
        { "NEEDS_ASSESSMENT", "MSL-03", TOUCHPOINT__V1__STEP_STATE__STEP_STATE_STARTED, 1 },
        { "FMV_REVIEW", "FMV-11", TOUCHPOINT__V1__STEP_STATE__STEP_STATE_STARTED, 0 },
    };
    for (size_t i = 0; i < n; i++) {
        snprintf(contract, sizeof contract, "K-SPK-%zu", i);
        for (size_t k = 0; k < 3; k++) {
            frame_t f = { .topic = "crm.contracting" };
            snprintf(id, sizeof id, "k-%zu-%zu", i, k);
            f.len = s_pack_step(&f.buf, id, T0 + (int64_t)k, contract, steps[k].step,
                                steps[k].state, steps[k].owner, steps[k].ask);
            s_handle(e, &f);
            free(f.buf);
        }
    }
    /* dedup_window 1: the event-id window is an event cost, not case state. */
    double bytes = (double)(mallinfo2().uordblks - before) / (double)n;
    tp_engine_destroy(&e);
    tp_config_destroy(&cfg);
    return bytes;
}

static double s_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The workload, the same for every N: a quarter each of new planned
 * calls, complete submissions of open calls, incomplete submissions, and
 * feedback. Event times stay inside the first day so no deadline fires:
 * we measure the per-event cost, not alert output. */
static bool s_only_complete; /* BENCH_WORKLOAD=complete */

static frame_t *s_workload(size_t n_open, size_t spread) {
    frame_t *w = calloc(s_work, sizeof *w);
    char     id[48], call[48], hcp[32], rep[32];
    for (size_t i = 0; i < s_work; i++) {
        int64_t at = T0 + 1000 + (int64_t)i;
        /* Which open call (and HCP, rep) this event is about: one of the
         * first `spread` open calls. */
        size_t target = (i * 2654435761u) % (spread < n_open ? spread : n_open);
        snprintf(id, sizeof id, "w-%zu", i);
        snprintf(hcp, sizeof hcp, "HCP-%zu", target % 50000);
        snprintf(rep, sizeof rep, "REP-%zu", target % 2000);
        switch (s_only_complete ? 1 : i % 4) {
        case 0:
            snprintf(call, sizeof call, "NEW-%zu", i);
            w[i].len = s_pack_call(&w[i].buf, id, at, call, hcp, rep,
                                   TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_PLANNED, 0, at + D);
            w[i].topic = "crm.call";
            break;
        case 1:
        case 2:
            snprintf(call, sizeof call, "OPEN-%zu", target);
            w[i].len = s_pack_call(&w[i].buf, id, at, call, hcp, rep,
                                   TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_SUBMITTED,
                                   s_only_complete || i % 4 == 1, T0 + D / 2);
            w[i].topic = "crm.call";
            break;
        default:
            w[i].len = s_pack_feedback(&w[i].buf, id, at, hcp, (int)(i % 11),
                                       TOUCHPOINT__V1__CHANNEL__CHANNEL_VIDEO);
            w[i].topic = "crm.feedback";
            break;
        }
    }
    return w;
}

typedef struct {
    size_t open;
    double hot_per_s;    /* events about the same 1,000 calls, whatever N */
    double spread_per_s; /* events spread over all N open calls */
    double bytes_per_open_call;
} result_t;

static uint64_t s_alerts; /* transitions published so far */

/* Digest of every alert published (topic and bytes, in order): with
 * BENCH_DIGEST=1 printed at the end, so a change to the engine can show it
 * publishes the same alerts, byte for byte, on the bench's workloads. */
static uint64_t s_digest;
static bool     s_digesting;

static int s_null_sink(void *ctx, const char *topic, const uint8_t *buf, size_t len,
                       const Touchpoint__V1__Alert *alert) {
    s_alerts++;
    if (s_digesting) {
        s_digest = XXH3_64bits_withSeed(topic, strlen(topic), s_digest);
        s_digest = XXH3_64bits_withSeed(buf, len, s_digest);
    }
    if (ctx) /* the KPIs time each alert, as the daemon's sink has them do */
        tp_kpi_alert(ctx, alert);
    return 0;
}

/* Opens n_open calls in a fresh engine, then times s_work events about the
 * first `spread` of them. Returns events/s; *ret_bytes (if not NULL) gets
 * heap bytes per open call. */
static bool   s_with_kpi;     /* install the KPI observer (what the daemon does with http on) */
static double s_last_mallocs; /* mallocs per event of the last s_run's timed loop */

/* The config of s_run, with BENCH_LUA_RULES example Lua rules. */
static const char *s_yaml(void) {
    static char        yaml[2048];
    static const char *files[] = { "notes_quality", "contact_frequency",
                                   "compliance_after_signature" };
    const char        *env = getenv("BENCH_LUA_RULES");
    int                n = env ? atoi(env) : 0, at;
    at = snprintf(yaml, sizeof yaml, "clock: event\n%s", n > 0 ? "lua_rules:\n" : "");
    for (int i = 0; i < n && i < 3; i++)
        at += snprintf(yaml + at, sizeof yaml - (size_t)at,
                       "  - { file: %s/examples/rules/%s.lua }\n", TP_SOURCE_DIR, files[i]);
    return yaml;
}

static double s_run(size_t n_open, size_t spread, double *ret_bytes) {
    /* The default config: the event-id window (200,000) stays bounded
     * whatever the number of open calls, as in production. */
    const char  *yaml = s_yaml();
    char         err[256];
    tp_config_t *cfg;
    tp_engine_t *e;
    if (tp_config_parse(yaml, strlen(yaml), "bench", err, sizeof err, &cfg) < 0 ||
        tp_engine_new(cfg, &e) < 0) {
        fprintf(stderr, "setup failed: %s\n", err);
        exit(1);
    }
    tp_engine_set_sink(e, s_null_sink, NULL);
    tp_metrics_t *m = NULL;
    tp_kpi_t     *kpi = NULL;
    if (s_with_kpi) {
        if (tp_metrics_new("touchpointd_", &m) < 0 || tp_kpi_new(cfg, m, &kpi) < 0)
            exit(1);
        tp_engine_set_observer(e, tp_kpi_observe, kpi);
        tp_engine_set_sink(e, s_null_sink, kpi);
    }
    frame_t *work = s_workload(n_open, spread);

    size_t before = mallinfo2().uordblks;
    char   id[48], call[48], hcp[32], rep[32];
    for (size_t i = 0; i < n_open; i++) {
        frame_t f = { .topic = "crm.call" };
        snprintf(id, sizeof id, "open-%zu", i);
        snprintf(call, sizeof call, "OPEN-%zu", i);
        snprintf(hcp, sizeof hcp, "HCP-%zu", i % 50000);
        snprintf(rep, sizeof rep, "REP-%zu", i % 2000);
        f.len = s_pack_call(&f.buf, id, T0, call, hcp, rep,
                            TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_PLANNED, 0, T0 + D / 2);
        s_handle(e, &f);
        free(f.buf);
    }
    if (ret_bytes)
        *ret_bytes = (double)(mallinfo2().uordblks - before) / (double)n_open;

    uint64_t m0 = bench_allocs;
    double   t0 = s_now();
    CALLGRIND_START_INSTRUMENTATION;
    for (size_t i = 0; i < s_work; i++)
        s_handle(e, &work[i]);
    CALLGRIND_STOP_INSTRUMENTATION;
    double dt = s_now() - t0;
    s_last_mallocs = (double)(bench_allocs - m0) / (double)s_work;

    for (size_t i = 0; i < s_work; i++)
        free(work[i].buf);
    free(work);
    tp_engine_destroy(&e);
    tp_kpi_destroy(&kpi);
    tp_metrics_destroy(&m);
    tp_config_destroy(&cfg);
    return s_work / dt;
}

/* Mallocs per event in steady state for a stream that changes no alert:
 * 1,000 submitted calls corrected again and again (complete, so nothing
 * fires) and promoter feedback from their HCPs preferring the channel
 * used, KPI observer on. A dedup window of 1,000 is full after the warm-up,
 * so the window recycles as it does in production. Returns mallocs per
 * event of the measured part; *ret_alerts gets the alerts it published
 * (0, or the stream is not what it says). */
static bool s_steady_callgrind; /* BENCH_WORKLOAD=steady: instrument its measured part */

static double s_steady(uint64_t *ret_alerts) {
    static const char *yaml = "clock: event\nlimits: { dedup_window: 1000 }\n";
    char               err[256], id[48], call[48], hcp[32], rep[32];
    tp_config_t       *cfg;
    tp_engine_t       *e;
    tp_metrics_t      *m = NULL;
    tp_kpi_t          *kpi = NULL;
    if (tp_config_parse(yaml, strlen(yaml), "bench", err, sizeof err, &cfg) < 0 ||
        tp_engine_new(cfg, &e) < 0 || tp_metrics_new("touchpointd_", &m) < 0 ||
        tp_kpi_new(cfg, m, &kpi) < 0)
        exit(1);
    tp_engine_set_sink(e, s_null_sink, kpi);
    tp_engine_set_observer(e, tp_kpi_observe, kpi);
    enum { CALLS = 1000, WARM = 5000, MEASURED = 20000 };
    uint64_t m0 = 0, a0 = 0;
    for (size_t i = 0; i < WARM + MEASURED; i++) {
        if (i == WARM) {
            m0 = bench_allocs;
            a0 = s_alerts;
            if (s_steady_callgrind)
                CALLGRIND_START_INSTRUMENTATION;
        }
        size_t  target = i / 2 % CALLS;
        int64_t at = T0 + 1000 + (int64_t)i;
        frame_t f;
        snprintf(id, sizeof id, "s-%zu", i);
        snprintf(hcp, sizeof hcp, "HCP-%zu", target);
        snprintf(rep, sizeof rep, "REP-%zu", target % 200);
        if (i % 2 == 0) {
            snprintf(call, sizeof call, "OPEN-%zu", target);
            f.len = s_pack_call(&f.buf, id, at, call, hcp, rep,
                                TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_SUBMITTED, 1, T0 + D / 2);
            f.topic = "crm.call";
        } else {
            f.len = s_pack_feedback(&f.buf, id, at, hcp, 10,
                                    TOUCHPOINT__V1__CHANNEL__CHANNEL_IN_PERSON);
            f.topic = "crm.feedback";
        }
        s_handle(e, &f);
        free(f.buf);
    }
    if (s_steady_callgrind)
        CALLGRIND_STOP_INSTRUMENTATION;
    double per_event = (double)(bench_allocs - m0) / MEASURED;
    if (getenv("BENCH_DEBUG"))
        fprintf(stderr, "steady: received %llu accepted %llu\n",
                (unsigned long long)tp_engine_stats(e)->received,
                (unsigned long long)tp_engine_stats(e)->accepted);
    *ret_alerts = s_alerts - a0;
    tp_engine_destroy(&e);
    tp_kpi_destroy(&kpi);
    tp_metrics_destroy(&m);
    tp_config_destroy(&cfg);
    return per_event;
}

int main(int argc, char **argv) {
    size_t sizes[8] = { 1000, 1000000 };
    int    n = 2;
    if (argc > 1) {
        n = 0;
        for (int i = 1; i < argc && n < 8; i++)
            sizes[n++] = strtoull(argv[i], NULL, 10);
    }
    tp_log_set_max_level(TP_LOG_ERR); /* duplicates and gaps are not the point here */
    /* BENCH_WORKLOAD=hot or spread runs only that one (for callgrind). */
    const char *only = getenv("BENCH_WORKLOAD");
    if (getenv("BENCH_EVENTS"))
        s_work = strtoull(getenv("BENCH_EVENTS"), NULL, 10);
    s_with_kpi = getenv("BENCH_KPI") != NULL;
    s_digesting = getenv("BENCH_DIGEST") != NULL;
    s_steady_callgrind = only && strcmp(only, "steady") == 0;
    s_only_complete = only && strcmp(only, "complete") == 0;
    bool hot = !only || strcmp(only, "hot") == 0 || s_only_complete,
         spread = !only || strcmp(only, "spread") == 0;
    result_t res[8];
    printf("%12s %12s %8s %12s %8s %16s %12s\n", "open calls", "hot ev/s", "ratio", "spread ev/s",
           "ratio", "bytes/open call", "mallocs/ev");
    for (int i = 0; i < n; i++) {
        res[i] = (result_t){ .open = sizes[i] };
        if (hot)
            res[i].hot_per_s = s_run(sizes[i], 1000, &res[i].bytes_per_open_call);
        double mallocs = s_last_mallocs;
        if (spread)
            res[i].spread_per_s =
                s_run(sizes[i], sizes[i], hot ? NULL : &res[i].bytes_per_open_call);
        if (!hot)
            mallocs = s_last_mallocs;
        printf("%12zu %12.0f %8.3f %12.0f %8.3f %16.0f %12.3f\n", res[i].open, res[i].hot_per_s,
               res[i].hot_per_s / res[0].hot_per_s, res[i].spread_per_s,
               res[i].spread_per_s / res[0].spread_per_s, res[i].bytes_per_open_call, mallocs);
    }
    uint64_t steady_alerts;
    double   steady = s_steady(&steady_alerts);
    printf("steady no-alert stream (1,000 calls corrected, promoter feedback): %.4f mallocs/event, "
           "%llu alerts\n",
           steady, (unsigned long long)steady_alerts);
    if (s_digesting)
        printf("alert digest %016llx over %llu alerts\n", (unsigned long long)s_digest,
               (unsigned long long)s_alerts);
    /* Under callgrind (BENCH_WORKLOAD set) only the workload above. */
    if (only)
        return 0;
    /* The KPI observer's cost: the hot workload at the smallest N, off and
     * on alternately, best of three each (same run, same machine state). */
    double off = 0, on = 0;
    for (int rep = 0; rep < 3; rep++) {
        s_with_kpi = false;
        double r = s_run(sizes[0], 1000, NULL);
        off = r > off ? r : off;
        s_with_kpi = true;
        r = s_run(sizes[0], 1000, NULL);
        on = r > on ? r : on;
    }
    s_with_kpi = getenv("BENCH_KPI") != NULL;
    printf(
        "KPI observer (%zu open calls, hot, best of 3): off %.0f ev/s, on %.0f ev/s, ratio %.3f\n",
        sizes[0], off, on, on / off);
    double case_bytes = s_case_bytes(100000);
    printf("heap bytes per open contracting case (100,000 cases, 3 steps each): %.0f\n",
           case_bytes);
    printf("{\"bench\":\"engine\",\"workload_events\":%zu,\"bytes_per_open_case\":%.0f,"
           "\"steady_mallocs_per_event\":%.4f,\"runs\":[",
           s_work, case_bytes, steady);
    for (int i = 0; i < n; i++)
        printf("%s{\"open_calls\":%zu,\"hot_events_per_s\":%.0f,\"hot_ratio\":%.4f,"
               "\"spread_events_per_s\":%.0f,\"spread_ratio\":%.4f,\"bytes_per_open_call\":%.0f}",
               i ? "," : "", res[i].open, res[i].hot_per_s, res[i].hot_per_s / res[0].hot_per_s,
               res[i].spread_per_s, res[i].spread_per_s / res[0].spread_per_s,
               res[i].bytes_per_open_call);
    printf("]}\n");
    return 0;
}
