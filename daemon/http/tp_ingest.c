/* tp_ingest — see tp_ingest.h. */
#include "tp_ingest.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tp_cli.h"
#include "tp_contract.h"
#include "tp_engine.h"
#include "tp_http_reply.h"
#include "tp_json.h"


struct tp_ingest {
    tp_ingest_ops_t ops;
    bool            enabled;
    bool            commit_failed; /* the journal's last commit failed */
    char           *token;         /* NULL = no token required */
    size_t          token_len;
    tp_metric_t    *requests; /* {code} */
    tp_metric_t    *events;   /* {result} */
};

/* One request's answer, held until the commit that stores its events. */
typedef struct {
    tp_ingest_t           *in;
    struct evhttp_request *req;
    int                    code;
    char                  *body;
} s_wait_t;

/* What one request's items came to. */
typedef struct {
    tp_ingest_t *in;
    size_t       accepted, duplicates, refused;
    json_t      *refused_list; /* [{index, event_id, error}] */
} s_batch_t;

enum { BODY_OTHER, BODY_JSON, BODY_NDJSON };

int tp_ingest_new(tp_metrics_t *m, const tp_ingest_ops_t *ops, tp_ingest_t **ret) {
    static const char *const code[] = { "code", NULL }, *const result[] = { "result", NULL };
    static const char *const results[] = { "accepted", "duplicate", "refused" };
    tp_ingest_t             *in = calloc(1, sizeof *in);
    if (!in)
        return -ENOMEM;
    in->ops = *ops;
    const tp_metric_def_t defs[] = {
        { &in->requests, TP_METRIC_COUNTER, "http_ingest_requests_total",
          "Requests to POST /v1/events, by the status answered (413 for a body over "
          "max_body_bytes is evhttp's, not counted)",
          code },
        { &in->events, TP_METRIC_COUNTER, "http_ingest_events_total",
          "Events posted to /v1/events, by result (accepted, duplicate, refused)", result },
    };
    if (tp_metrics_add_all(m, defs, sizeof defs / sizeof defs[0]) < 0) {
        tp_ingest_destroy(&in);
        return -ENOMEM;
    }
    for (size_t i = 0; i < 3; i++) { /* at 0 from the start, so a rate() has a base */
        const char *v[] = { results[i] };
        tp_metric_set(in->events, v, 0);
    }
    *ret = in;
    return 0;
}

void tp_ingest_configure(tp_ingest_t *in, const tp_config_t *cfg, char *token) {
    if (in->token) {
        explicit_bzero(in->token, in->token_len);
        free(in->token);
    }
    in->token = token;
    in->token_len = token ? strlen(token) : 0;
    in->enabled = cfg->http.ingest.enabled;
}

bool tp_ingest_enabled(const tp_ingest_t *in) {
    return in->enabled;
}

void tp_ingest_set_commit_failed(tp_ingest_t *in, bool failed) {
    in->commit_failed = failed;
}

static const char *s_phrase(int code) {
    switch (code) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 405: return "Method Not Allowed";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 500: return "Internal Server Error";
    default: return "Service Unavailable";
    }
}

/* Sends `text` (JSON) with `code` and counts the request by its code. */
static void s_send(tp_ingest_t *in, struct evhttp_request *req, int code, const char *text) {
    char c[16];
    snprintf(c, sizeof c, "%d", code);
    const char *v[] = { c };
    tp_metric_add(in->requests, v, 1);
    tp_http_reply(req, code, s_phrase(code), "application/json", text, strlen(text), "\n");
}

/* Answers {"error": "<message>"} with `code`. */
static void s_error(tp_ingest_t *in, struct evhttp_request *req, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void s_error(tp_ingest_t *in, struct evhttp_request *req, int code, const char *fmt, ...) {
    char    msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *doc = json_object();
    char   *text = NULL;
    if (doc && json_object_set_new(doc, "error", json_string(msg)) == 0)
        text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    s_send(in, req, text ? code : 500, text ? text : "{\"error\":\"out of memory\"}");
    free(text);
}

static void s_count(s_batch_t *b, const char *result) {
    const char *v[] = { result };
    tp_metric_add(b->in->events, v, 1);
}

static void s_refuse(s_batch_t *b, size_t index, const char *event_id, const char *why) {
    b->refused++;
    s_count(b, "refused");
    json_t *o = json_object();
    if (!o || json_object_set_new(o, "index", json_integer((json_int_t)index)) < 0 ||
        json_object_set_new(o, "event_id", json_string(event_id ? event_id : "")) < 0 ||
        json_object_set_new(o, "error", json_string(why)) < 0 ||
        json_array_append_new(b->refused_list, o) < 0)
        json_decref(o); /* out of memory: the count still says it was refused */
}

/* Item `index` as [topic, Envelope] to the daemon, then counted. The bytes
 * submitted (and logged for the restart's rebuild) are the protobuf
 * encoding, as if the event had come over ZeroMQ. */
static void s_item(s_batch_t *b, size_t index, const json_t *item) {
    char              why[512] = "";
    ProtobufCMessage *msg = NULL;
    uint8_t          *buf = NULL;
    int r = tp_json_to_message(item, &touchpoint__v1__envelope__descriptor, why, sizeof why, &msg);
    const Touchpoint__V1__Envelope *env = (const Touchpoint__V1__Envelope *)msg;
    const char                     *topic = env ? tp_topic_for_payload(env->payload_case) : NULL;
    if (r == 0 && !topic) {
        snprintf(why, sizeof why,
                 "no payload: one of call, contracting, feedback, watermark is "
                 "required");
        r = TP_REFUSED;
    } else if (r == 0) {
        size_t n = protobuf_c_message_get_packed_size(msg);
        if (!(buf = malloc(n ? n : 1))) {
            r = -ENOMEM;
        } else {
            protobuf_c_message_pack(msg, buf);
            tp_frame_t frames[2] = { { topic, strlen(topic) }, { buf, n } };
            r = b->in->ops.submit(b->in->ops.ctx, frames, why, sizeof why);
        }
    } else if (r != -ENOMEM) {
        r = TP_REFUSED; /* why says which field and what is wrong */
    }
    /* The event_id as sent, even when the rest of the item was not usable. */
    const char *id = env ? env->event_id : NULL;
    if (!id && json_is_object(item)) {
        id = json_string_value(json_object_get(item, "eventId"));
        if (!id)
            id = json_string_value(json_object_get(item, "event_id"));
    }
    if (r == TP_ACCEPTED) {
        b->accepted++;
        s_count(b, "accepted");
    } else if (r == TP_DUPLICATE) {
        b->duplicates++;
        s_count(b, "duplicate");
    } else {
        if (r < 0)
            snprintf(why, sizeof why, "internal error: %s", strerror(-r));
        s_refuse(b, index, id, why);
    }
    free(buf);
    if (msg)
        protobuf_c_message_free_unpacked(msg, NULL);
}

/* application/json: one Envelope or an array of them. 0 once every item
 * went through s_item, else the status to answer with msg. */
static int s_run_json(s_batch_t *b, const char *body, size_t len, char *msg, size_t msglen) {
    json_error_t jerr;
    json_t      *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc) {
        if (json_error_code(&jerr) == json_error_out_of_memory) {
            snprintf(msg, msglen, "out of memory parsing the body; retry");
            return 503;
        }
        snprintf(msg, msglen, "not JSON: line %d, column %d: %s", jerr.line, jerr.column,
                 jerr.text);
        return 400;
    }
    int    code = 0;
    size_t n = json_array_size(doc);
    if (json_is_object(doc)) {
        s_item(b, 0, doc);
    } else if (n > TP_INGEST_MAX_ITEMS) {
        snprintf(msg, msglen,
                 "a batch holds at most %d events; this one has %zu (nothing was "
                 "processed)",
                 TP_INGEST_MAX_ITEMS, n);
        code = 413;
    } else {
        for (size_t i = 0; i < n; i++)
            s_item(b, i, json_array_get(doc, i));
    }
    json_decref(doc);
    return code;
}

static bool s_blank(const char *s, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (!strchr(" \t\r", s[i]))
            return false;
    return true;
}

/* application/x-ndjson: one Envelope per line; blank lines are skipped, a
 * line that is not JSON is a refused item (its index counts the items). */
static int s_run_ndjson(s_batch_t *b, const char *body, size_t len, char *msg, size_t msglen) {
    const char *end = body + len;
    size_t      n = 0;
    for (const char *p = body, *nl; p < end; p = nl ? nl + 1 : end) {
        nl = memchr(p, '\n', (size_t)(end - p));
        n += !s_blank(p, (size_t)((nl ? nl : end) - p));
    }
    if (n > TP_INGEST_MAX_ITEMS) {
        snprintf(msg, msglen,
                 "a batch holds at most %d events; this one has %zu lines (nothing "
                 "was processed)",
                 TP_INGEST_MAX_ITEMS, n);
        return 413;
    }
    size_t index = 0, line = 0;
    for (const char *p = body, *nl; p < end; p = nl ? nl + 1 : end) {
        nl = memchr(p, '\n', (size_t)(end - p));
        size_t l = (size_t)((nl ? nl : end) - p);
        line++;
        if (s_blank(p, l))
            continue;
        json_error_t jerr;
        json_t      *item = json_loadb(p, l, JSON_REJECT_DUPLICATES, &jerr);
        if (item) {
            s_item(b, index, item);
        } else {
            char why[256];
            snprintf(why, sizeof why, "not JSON: line %zu, column %d: %s", line, jerr.column,
                     jerr.text);
            s_refuse(b, index, NULL, why);
        }
        json_decref(item);
        index++;
    }
    return 0;
}

static int s_body_kind(const char *ct) {
    if (!ct)
        return BODY_OTHER;
    ct += strspn(ct, " \t");
    size_t n = strcspn(ct, ";");
    while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
        n--;
    if (n == strlen("application/json") && !strncasecmp(ct, "application/json", n))
        return BODY_JSON;
    if (n == strlen("application/x-ndjson") && !strncasecmp(ct, "application/x-ndjson", n))
        return BODY_NDJSON;
    return BODY_OTHER;
}

/* Equal in a time that depends only on the expected token's length, so
 * timing tells a guesser nothing about how much of a guess was right. */
static bool s_token_equal(const tp_ingest_t *in, const char *got, size_t len) {
    volatile unsigned char diff = len != in->token_len;
    for (size_t i = 0; i < in->token_len; i++)
        diff |= (unsigned char)(in->token[i] ^ (i < len ? got[i] : 0));
    return diff == 0;
}

/* True if the request carries the token; else answers 401 and is false. */
static bool s_authorized(tp_ingest_t *in, struct evhttp_request *req) {
    const char *a = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    if (!a || strncasecmp(a, "Bearer ", 7) != 0) {
        evhttp_add_header(out, "WWW-Authenticate", "Bearer realm=\"touchpointd\"");
        s_error(in, req, 401, "a bearer token is required: Authorization: Bearer <token>");
        return false;
    }
    a += 7;
    a += strspn(a, " \t");
    size_t len = strlen(a);
    while (len > 0 && (a[len - 1] == ' ' || a[len - 1] == '\t'))
        len--;
    if (!s_token_equal(in, a, len)) {
        evhttp_add_header(out, "WWW-Authenticate",
                          "Bearer realm=\"touchpointd\", error=\"invalid_token\"");
        s_error(in, req, 401, "the bearer token is not the one configured");
        return false;
    }
    return true;
}

/* The commit that stores the request's events is done (or failed). */
static void s_durable_cb(void *arg, int r) {
    s_wait_t *w = arg;
    if (r < 0) {
        evhttp_add_header(evhttp_request_get_output_headers(w->req), "Retry-After", "1");
        s_error(w->in, w->req, 503,
                "%s before these events were committed; none is promised "
                "durable: send them again (duplicates are recognised)",
                r == -ECANCELED ? "the endpoint closed" : "the journal commit failed");
    } else {
        s_send(w->in, w->req, w->code, w->body);
    }
    free(w->body);
    free(w);
}

/* The 200/422 answer for a processed batch, sent once it is durable. */
static void s_answer(tp_ingest_t *in, struct evhttp_request *req, s_batch_t *b) {
    json_t *doc = json_object();
    char   *text = NULL;
    if (doc && json_object_set_new(doc, "accepted", json_integer((json_int_t)b->accepted)) == 0 &&
        json_object_set_new(doc, "duplicates", json_integer((json_int_t)b->duplicates)) == 0 &&
        json_object_set(doc, "refused", b->refused_list) == 0)
        text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    s_wait_t *w = text ? calloc(1, sizeof *w) : NULL;
    if (!w) {
        free(text);
        s_error(in, req, 503,
                "out of memory answering; send the events again (duplicates are "
                "recognised)");
        return;
    }
    *w = (s_wait_t){ .in = in, .req = req, .code = b->refused ? 422 : 200, .body = text };
    int r = in->ops.when_durable(in->ops.ctx, s_durable_cb, w);
    if (r < 0)
        s_durable_cb(w, r);
}

void tp_ingest_handle(tp_ingest_t *in, struct evhttp_request *req) {
    if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "POST");
        s_error(in, req, 405, "/v1/events takes POST only");
        return;
    }
    if (in->token && !s_authorized(in, req))
        return;
    if (in->commit_failed) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", "1");
        s_error(in, req, 503,
                "the journal is failing to commit; nothing was processed, retry "
                "later");
        return;
    }
    const char *ct = evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type");
    int         kind = s_body_kind(ct);
    if (kind == BODY_OTHER) {
        s_error(in, req, 415,
                "Content-Type must be application/json or application/x-ndjson, "
                "not \"%.64s\"",
                ct ? ct : "");
        return;
    }
    struct evbuffer *ib = evhttp_request_get_input_buffer(req);
    size_t           len = evbuffer_get_length(ib);
    const char      *body = len ? (const char *)evbuffer_pullup(ib, -1) : "";
    char             msg[512];
    s_batch_t        b = { .in = in, .refused_list = json_array() };
    int              code = !body || !b.refused_list ? 503
                            : kind == BODY_JSON      ? s_run_json(&b, body, len, msg, sizeof msg)
                                                     : s_run_ndjson(&b, body, len, msg, sizeof msg);
    if (code == 503 && (!body || !b.refused_list))
        snprintf(msg, sizeof msg, "out of memory; retry");
    if (code)
        s_error(in, req, code, "%s", msg);
    else
        s_answer(in, req, &b);
    json_decref(b.refused_list);
}

void tp_ingest_destroy(tp_ingest_t **p) {
    tp_ingest_t *in = p ? *p : NULL;
    if (!in)
        return;
    if (in->token) {
        explicit_bzero(in->token, in->token_len);
        free(in->token);
    }
    free(in);
    *p = NULL;
}
