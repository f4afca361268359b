/* tp_testjs — see tp_testjs.h. */
#include "tp_testjs.h"

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#define HCPS    24                 /* per round, one event each */
#define T0      1772352000000LL    /* 2026-03-01 */
#define STEP_MS (10 * 60 * 1000LL) /* event time between two events */

static const char s_full[] =
    "\"products\":[\"Cardiozan\"],\"topics\":[\"dosing\"],"
    "\"notes\":\"Reviewed the renal data.\",\"nextStep\":\"Send the reprint.\"";

static void s_call(FILE *f, unsigned *seq, long long t, unsigned h, const char *id,
                   const char *status, long long call_at, bool submitted, bool complete) {
    char sub[64] = "";
    if (submitted)
        snprintf(sub, sizeof sub, ",\"submittedAtMs\":\"%lld\"", t);
    fprintf(f,
            "{\"eventId\":\"e-%s-%s-%lld\",\"source\":\"crm\",\"sequence\":\"%u\","
            "\"occurredAtMs\":\"%lld\",\"call\":{\"callId\":\"%s\",\"hcpId\":\"HCP-%u\","
            "\"repId\":\"R-%u\",\"accountId\":\"ACC-%u\",\"territory\":\"DE-%u\","
            "\"channel\":\"%s\",\"status\":\"%s\",\"callAtMs\":\"%lld\"%s%s%s}}\n",
            id, status, t, ++*seq, t, id, h, h % 5, h, h % 3, h % 2 ? "IN_PERSON" : "PHONE", status,
            call_at, sub, complete ? "," : "", complete ? s_full : "");
}

static void s_step(FILE *f, unsigned *seq, long long t, unsigned h, unsigned g, const char *step,
                   const char *state, const char *owner) {
    fprintf(f,
            "{\"eventId\":\"k-%u-%u-%s-%s\",\"source\":\"contracts\",\"sequence\":\"%u\","
            "\"occurredAtMs\":\"%lld\",\"contracting\":{\"contractId\":\"K-%u-%u\","
            "\"hcpId\":\"HCP-%u\",\"repId\":\"R-%u\",\"contractType\":\"SPEAKER\","
            "\"step\":\"%s\",\"state\":\"%s\",\"ownerId\":\"%s\",\"atMs\":\"%lld\"%s}}\n",
            h, g, step, state, ++*seq, t, h, g, h, h % 5, step, state, owner, t,
            strcmp(state, "RETURNED") == 0 ? ",\"hcpAction\":true" : "");
}

static void s_watermark(FILE *f, unsigned *seq, long long t) {
    fprintf(f,
            "{\"eventId\":\"wm-%u\",\"source\":\"export\",\"sequence\":\"%u\","
            "\"occurredAtMs\":\"%lld\",\"watermark\":{\"nowMs\":\"%lld\"}}\n",
            *seq + 1, *seq + 1, t, t);
    ++*seq;
}

tp_js_stream_t *tp_js_stream_new(void) {
    tp_js_stream_t *st = calloc(1, sizeof *st);
    assert_non_null(st);
    st->dir = tp_tmpdir();
    st->ref = calloc(TP_JS_MAX_KEYS, sizeof *st->ref);
    assert_non_null(st->ref);
    static const unsigned rounds[] = { 0, 8, 16, TP_JS_ROUNDS };
    for (unsigned i = 0; i < 3; i++) {
        char name[32];
        snprintf(name, sizeof name, "part%u.jsonl", i);
        st->parts[i] = tp_path(st->dir, name);
        tp_js_generate(st->parts[i], rounds[i], rounds[i + 1], i == 2);
    }
    const char *const inputs[] = { st->parts[0], st->parts[1], st->parts[2], NULL };
    st->nref = tp_nats_reference(inputs, st->ref, TP_JS_MAX_KEYS);
    return st;
}

void tp_js_stream_free(tp_js_stream_t **p) {
    tp_js_stream_t *st = p ? *p : NULL;
    if (!st)
        return;
    tp_nats_free_keys(st->ref, st->nref);
    free(st->ref);
    for (unsigned i = 0; i < 3; i++)
        free(st->parts[i]);
    tp_rmrf(st->dir);
    free(st->dir);
    free(st);
    *p = NULL;
}

/* Each round one event per HCP (its kind staggered by HCP), then a
 * watermark. Event time only grows, as in a CRM export. */
void tp_js_generate(const char *path, unsigned r0, unsigned r1, bool last) {
    static unsigned crm, contracts, survey, wm; /* sequences continue across parts */
    if (r0 == 0)
        crm = contracts = survey = wm = 0;
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    long long t = T0 + (long long)r0 * (HCPS + 1) * STEP_MS;
    for (unsigned r = r0; r < r1; r++) {
        for (unsigned h = 0; h < HCPS; h++, t += STEP_MS) {
            char id[64], prev[64];
            snprintf(id, sizeof id, "C-%u-%u", h, r);
            unsigned g = (r + h) / 8;
            switch ((r + h) % 8) {
            case 0: s_call(f, &crm, t, h, id, "PLANNED", t + 3600000, false, false); break;
            case 1:
                fprintf(f,
                        "{\"eventId\":\"fb-%u-%u\",\"source\":\"survey\",\"sequence\":\"%u\","
                        "\"occurredAtMs\":\"%lld\",\"feedback\":{\"feedbackId\":\"F-%u-%u\","
                        "\"hcpId\":\"HCP-%u\",\"subjectType\":\"general\",\"nps\":%u,"
                        "\"comment\":\"Too many visits.\",\"atMs\":\"%lld\"}}\n",
                        h, r, ++survey, t, h, r, h, h % 2 ? 3u : 9u, t);
                break;
            case 2: s_call(f, &crm, t, h, id, "SUBMITTED", t - 3600000, true, false); break;
            case 3:
                if (h % 2) { /* the incomplete call of the last round, completed */
                    snprintf(prev, sizeof prev, "C-%u-%u", h, r - 1);
                    s_call(f, &crm, t, h, prev, "SUBMITTED", t - 3600000, true, true);
                } else { /* the planned call of three rounds ago, cancelled */
                    snprintf(prev, sizeof prev, "C-%u-%u", h, r >= 3 ? r - 3 : r);
                    s_call(f, &crm, t, h, prev, "CANCELLED", t + 3600000, false, false);
                }
                break;
            case 4: s_call(f, &crm, t, h, id, "SAVED", t - 7200000, false, true); break;
            case 5: s_step(f, &contracts, t, h, g, "NOMINATION", "STARTED", "REP-1"); break;
            case 6: s_step(f, &contracts, t, h, g, "NOMINATION", "RETURNED", "REP-1"); break;
            default: s_step(f, &contracts, t, h, g, "FMV_REVIEW", "STARTED", "FMV-1"); break;
            }
        }
        s_watermark(f, &wm, t);
        t += STEP_MS;
    }
    if (last)
        s_watermark(f, &wm, t + 30LL * 86400000);
    fclose(f);
}

static unsigned s_live(const char *log) {
    unsigned set = 0;
    for (const char *s = log; s && (s = strstr(s, "JetStream partition ")); s++) {
        unsigned p;
        char     word[8];
        if (sscanf(s, "JetStream partition %u%7s", &p, word) != 2 || p >= TP_JS_N_PART)
            continue;
        if (strcmp(word, "live:") == 0)
            set |= 1u << p;
        else if (word[0] == ':') /* no longer ours, take-over failed, rebuilding: not served */
            set &= ~(1u << p);
    }
    return set;
}

unsigned tp_js_live_of(tp_dfx_t *d) {
    char    *log = tp_read_file(d->err);
    unsigned set = s_live(log);
    free(log);
    return set;
}

void tp_js_dump_log(const char *name, tp_dfx_t *d) {
    char *log = tp_read_file(d->err);
    if (!log)
        return;
    /* Without the sequence-gap warnings (a partitioned stream is full of
     * them), and not through print_message, which cuts at 1 KiB. */
    char *w = log;
    for (char *line = log, *nl; *line; line = nl) {
        nl = strchr(line, '\n');
        nl = nl ? nl + 1 : line + strlen(line);
        if (!strstr(line, "Sequence gap") || (strstr(line, "Sequence gap") > nl)) {
            memmove(w, line, (size_t)(nl - line));
            w += nl - line;
        }
    }
    *w = '\0';
    size_t n = (size_t)(w - log);
    fprintf(stderr, "--- %s's log (end) ---\n%s\n", name, log + (n > 8000 ? n - 8000 : 0));
    free(log);
}

static long long s_end_ms, s_budget_ms;

void tp_js_budget_start(long long budget_ms) {
    s_budget_ms = budget_ms;
    s_end_ms = tp_now_ms() + budget_ms;
}

long long tp_js_budget(long long want_ms, const char *what) {
    long long left = s_end_ms - tp_now_ms();
    if (left <= 0)
        fail_msg("the test's %lld s budget is spent before: %s", s_budget_ms / 1000, what);
    return want_ms < left ? want_ms : left;
}

unsigned long tp_js_publish(tp_dfx_t *d, const char *urls, const char *path) {
    const char *args[] = { "--nats", urls, "--partitions", TP_JS_PARTITIONS, path, NULL };
    long long   deadline = tp_now_ms() + tp_js_budget(3 * TP_WAIT_MS, "publishing");
    for (int attempt = 0;; attempt++) {
        char         *err = NULL;
        int           r = tp_nats_tp_pub(d, args, &err);
        const char   *at = err ? strstr(err, " messages)") : NULL;
        unsigned long msgs = 0;
        while (at && at > err && at[-1] >= '0' && at[-1] <= '9')
            at--;
        if (at)
            msgs = strtoul(at, NULL, 10);
        if (r != 0)
            print_message("tp-pub (attempt %d): %.300s\n", attempt + 1, err ? err : "");
        free(err);
        if (r == 0)
            return msgs;
        assert_true(tp_now_ms() < deadline);
        usleep(1000 * 1000);
    }
}

void tp_js_wait_fair_split(tp_dfx_t *d[], unsigned n, unsigned owned[], unsigned must_own,
                           const char *when) {
    long long deadline = tp_now_ms() + tp_js_budget(3 * TP_WAIT_MS, when);
    for (;;) {
        unsigned all = 0, overlap = 0;
        bool     fair = true;
        for (unsigned i = 0; i < n; i++) {
            owned[i] = tp_js_live_of(d[i]);
            overlap |= all & owned[i];
            all |= owned[i];
            fair &= (unsigned)__builtin_popcount(owned[i]) <= (TP_JS_N_PART + n - 1) / n;
        }
        if (all == (1u << TP_JS_N_PART) - 1 && fair && !overlap &&
            (must_own == n || owned[must_own]))
            return;
        if (tp_now_ms() >= deadline) {
            for (unsigned i = 0; i < n; i++)
                print_message("i%u serves %#x\n", i, owned[i]);
            fail_msg("no fair split %s", when);
        }
        usleep(50 * 1000);
    }
}

void tp_js_restart_node(tp_nats_srv_t **srv, size_t n, size_t i) {
    char routes[1024] = "", port[16];
    for (size_t k = 0; k < n; k++) {
        size_t rl = strlen(routes);
        snprintf(routes + rl, sizeof routes - rl, "%s%s", k ? "," : "", srv[k]->cluster_url);
    }
    snprintf(port, sizeof port, "%u", srv[i]->port);
    char       *sd = tp_path(srv[i]->dir, "js"), *log = tp_path(srv[i]->dir, "nats.log");
    const char *argv[] = { tp_nats_bin(),
                           "-a",
                           "127.0.0.1",
                           "-p",
                           port,
                           "-js",
                           "-sd",
                           sd,
                           "-n",
                           srv[i]->name,
                           "--cluster_name",
                           "tp-test",
                           "--cluster",
                           srv[i]->cluster_url,
                           "--routes",
                           routes,
                           NULL };
    assert_int_equal(tp_proc_spawn(&srv[i]->proc, argv, NULL, log, log), 0);
    srv[i]->running = true;
    free(sd);
    free(log);
}
