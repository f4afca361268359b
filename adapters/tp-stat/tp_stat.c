/* tp-stat — touchpointd's numbers for a person: GETs the daemon's /status
 * (libevent's HTTP client) and prints a summary: throughput, refusals,
 * alerts by rule, state sizes, the business KPIs as percentages, and
 * median contracting cycle and step times estimated from the histograms.
 *
 * Usage: tp-stat [--url http://127.0.0.1:7605] [--json]
 * Exit: 0, 1 when the daemon cannot be reached or answers badly, 2 usage.
 */
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TIMEOUT_S 5
#define P         "touchpointd_"

typedef struct {
    int                code; /* HTTP status, 0 = no answer */
    char              *body;
    struct event_base *base;
} s_result_t;

static void s_done_cb(struct evhttp_request *req, void *arg) {
    s_result_t *res = arg;
    if (req && evhttp_request_get_response_code(req) > 0) {
        res->code = evhttp_request_get_response_code(req);
        struct evbuffer *b = evhttp_request_get_input_buffer(req);
        size_t           len = evbuffer_get_length(b);
        if ((res->body = malloc(len + 1))) {
            evbuffer_remove(b, res->body, len);
            res->body[len] = '\0';
        }
    }
    event_base_loopexit(res->base, NULL);
}

/* GET url + /status. 0, or -1 with a message printed. */
static int s_fetch(const char *url, s_result_t *res) {
    char full[1024];
    snprintf(full, sizeof full, "%s%s", url, url[strlen(url) - 1] == '/' ? "status" : "/status");
    struct evhttp_uri *uri = evhttp_uri_parse(full);
    const char        *host = uri ? evhttp_uri_get_host(uri) : NULL;
    if (!host || !evhttp_uri_get_scheme(uri) || strcmp(evhttp_uri_get_scheme(uri), "http")) {
        fprintf(stderr, "tp-stat: invalid URL '%s' (expected http://host:port)\n", url);
        evhttp_uri_free(uri);
        return -1;
    }
    char h[256];
    snprintf(h, sizeof h, "%s", host);
    if (h[0] == '[' && h[strlen(h) - 1] == ']') { /* [::1] */
        memmove(h, h + 1, strlen(h));
        h[strlen(h) - 1] = '\0';
    }
    int                       port = evhttp_uri_get_port(uri) > 0 ? evhttp_uri_get_port(uri) : 80;
    struct event_base        *base = res->base = event_base_new();
    struct evhttp_connection *conn =
        base ? evhttp_connection_base_new(base, NULL, h, (unsigned short)port) : NULL;
    struct evhttp_request *req = conn ? evhttp_request_new(s_done_cb, res) : NULL;
    int                    r = -1;
    if (req) {
        evhttp_connection_set_timeout(conn, TIMEOUT_S);
        evhttp_add_header(evhttp_request_get_output_headers(req), "Host", host);
        if (evhttp_make_request(conn, req, EVHTTP_REQ_GET, "/status") == 0) {
            event_base_dispatch(base);
            r = 0;
        }
    }
    if (r == 0 && res->code == 0) {
        fprintf(stderr,
                "tp-stat: cannot reach touchpointd at %s (connection refused, reset or "
                "timed out after %d s)\n",
                url, TIMEOUT_S);
        r = -1;
    } else if (r == 0 && res->code != 200) {
        fprintf(stderr, "tp-stat: %s answered HTTP %d\n", full, res->code);
        r = -1;
    } else if (r < 0) {
        fprintf(stderr, "tp-stat: out of memory\n");
    }
    if (conn)
        evhttp_connection_free(conn);
    if (base)
        event_base_free(base);
    evhttp_uri_free(uri);
    return r;
}

static json_t *s_series(json_t *metrics, const char *name) {
    return json_object_get(json_object_get(metrics, name), "series");
}

/* The value of a metric without labels (NAN when absent or null). */
static double s_value(json_t *metrics, const char *name) {
    json_t *v = json_object_get(json_array_get(s_series(metrics, name), 0), "value");
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static void s_duration(double s, char *buf, size_t len) {
    if (s >= 86400)
        snprintf(buf, len, "%.1fd", s / 86400);
    else if (s >= 3600)
        snprintf(buf, len, "%.1fh", s / 3600);
    else if (s >= 1)
        snprintf(buf, len, "%.1fs", s);
    else
        snprintf(buf, len, "%.1fms", s * 1000);
}

/* The median of a histogram series, interpolated linearly inside the
 * bucket that holds it (as Prometheus' histogram_quantile does). */
static void s_median(json_t *series, char *buf, size_t len) {
    double  count = json_number_value(json_object_get(series, "count"));
    json_t *buckets = json_object_get(series, "buckets");
    double  rank = count / 2, lower = 0, prev = 0;
    size_t  i;
    json_t *b;
    json_array_foreach(buckets, i, b) {
        double le = json_number_value(json_object_get(b, "le"));
        double cum = json_number_value(json_object_get(b, "count"));
        if (cum >= rank && cum > prev) {
            s_duration(lower + (le - lower) * (rank - prev) / (cum - prev), buf, len);
            return;
        }
        lower = le;
        prev = cum;
    }
    char last[32];
    s_duration(lower, last, sizeof last);
    snprintf(buf, len, "> %s", last);
}

static void s_histograms(json_t *metrics, const char *name, const char *label, const char *title) {
    json_t *series = s_series(metrics, name), *s;
    size_t  i;
    printf("%s (median, estimated from histogram buckets):\n", title);
    if (!json_array_size(series))
        printf("  none yet\n");
    json_array_foreach(series, i, s) {
        char med[48];
        s_median(s, med, sizeof med);
        printf("  %-24s ~%-8s (n=%lld)\n",
               json_string_value(json_object_get(json_object_get(s, "labels"), label)), med,
               (long long)json_number_value(json_object_get(s, "count")));
    }
}

static void s_ratio(const char *what, double ratio, double num, double den, const char *of) {
    if (isnan(ratio) || den == 0)
        printf("  %-22s n/a (no %s yet)\n", what, of);
    else
        printf("  %-22s %5.1f%%  (%.0f of %.0f %s)\n", what, ratio * 100, num, den, of);
}

static void s_print(json_t *doc) {
    json_t *m = json_object_get(doc, "metrics"), *s;
    size_t  i;
    printf("touchpointd %s, up %llds, health: %s\n",
           json_string_value(json_object_get(doc, "version")),
           (long long)json_integer_value(json_object_get(doc, "uptime_seconds")),
           json_string_value(json_object_get(doc, "health")));
    printf("Events: %.0f messages received, %.0f accepted, %.0f duplicates, %.0f sequence gaps "
           "(%.0f missing)\n",
           s_value(m, P "messages_received_total"), s_value(m, P "events_accepted_total"),
           s_value(m, P "duplicates_total"), s_value(m, P "sequence_gaps_total"),
           s_value(m, P "sequence_missing_total"));
    printf("  refused:");
    json_array_foreach(s_series(m, P "events_refused_total"), i, s) printf(
        " %s %.0f", json_string_value(json_object_get(json_object_get(s, "labels"), "reason")),
        json_number_value(json_object_get(s, "value")));
    printf("\n");
    json_array_foreach(s_series(m, P "events_received_total"), i, s) {
        json_t *l = json_object_get(s, "labels");
        printf("  %-16s %-24s %.0f\n", json_string_value(json_object_get(l, "topic")),
               json_string_value(json_object_get(l, "source")),
               json_number_value(json_object_get(s, "value")));
    }
    printf("Alerts: %.0f open; PUB drops %.0f\n", s_value(m, P "open_alerts"),
           s_value(m, P "alerts_published_dropped_total"));
    json_array_foreach(s_series(m, P "alerts_total"), i, s) {
        json_t *l = json_object_get(s, "labels");
        printf("  %-24s %-9s %.0f\n", json_string_value(json_object_get(l, "rule")),
               json_string_value(json_object_get(l, "status")),
               json_number_value(json_object_get(s, "value")));
    }
    printf("State: %.0f calls, %.0f contracting cases, %.0f deadlines\n",
           s_value(m, P "open_calls"), s_value(m, P "open_cases"), s_value(m, P "armed_deadlines"));
    printf("KPIs:\n");
    double sub = s_value(m, P "calls_submitted_total");
    s_ratio("CRM completeness", s_value(m, P "crm_completeness_ratio"),
            s_value(m, P "calls_complete_total"), sub, "submitted calls");
    s_ratio("late submissions", s_value(m, P "late_submission_ratio"),
            s_value(m, P "calls_submitted_late_total"), sub, "submitted calls");
    s_ratio("channel match", s_value(m, P "channel_match_ratio"),
            s_value(m, P "calls_channel_matched_total"), s_value(m, P "calls_channel_known_total"),
            "calls with a known preferred channel");
    s_histograms(m, P "contract_cycle_seconds", "contract_type", "Contract cycle time");
    s_histograms(m, P "contract_step_seconds", "step", "Step time");
}

int main(int argc, char **argv) {
    const char                *url = "http://127.0.0.1:7605";
    bool                       raw = false;
    static const struct option opts[] = {
        { "url", required_argument, NULL, 'u' },
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { 0 },
    };
    int c;
    while ((c = getopt_long(argc, argv, "u:jh", opts, NULL)) != -1) {
        switch (c) {
        case 'u': url = optarg; break;
        case 'j': raw = true; break;
        case 'h':
            printf("Usage: tp-stat [--url http://127.0.0.1:7605] [--json]\n"
                   "Prints touchpointd's counters, alerts and KPIs from its /status endpoint;\n"
                   "--json prints the document as it came.\n");
            return 0;
        default: return 2;
        }
    }
    if (optind != argc || !*url) {
        fprintf(stderr, "Usage: tp-stat [--url http://127.0.0.1:7605] [--json]\n");
        return 2;
    }
    s_result_t res = { 0 };
    if (s_fetch(url, &res) < 0) {
        free(res.body);
        return 1;
    }
    json_error_t err;
    json_t      *doc = res.body ? json_loads(res.body, 0, &err) : NULL;
    if (!doc || !json_is_object(json_object_get(doc, "metrics"))) {
        fprintf(stderr, "tp-stat: %s/status did not answer a status document\n", url);
        json_decref(doc);
        free(res.body);
        return 1;
    }
    if (raw)
        printf("%s\n", res.body);
    else
        s_print(doc);
    json_decref(doc);
    free(res.body);
    return 0;
}
