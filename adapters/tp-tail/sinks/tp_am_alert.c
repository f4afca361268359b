/* tp_am_alert — see tp_am_alert.h. */
#include "tp_am_alert.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The alert's JSON member and the Alertmanager label it becomes, when set. */
static const char *const s_subject_labels[][2] = {
    { "territory", "territory" },
    { "repId", "rep_id" },
    { "hcpId", "hcp_id" },
    { "accountId", "account_id" },
    { "contractId", "contract_id" },
    { "callId", "call_id" },
    { "step", "step" },
};

void tp_am_time(int64_t ms, char *buf, size_t len) {
    time_t    sec = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, len - n, ".%03dZ", (int)(ms - (int64_t)sec * 1000));
}

/* "ALERT_KIND_FRICTION" -> "friction": the enum's last word, lower case. */
static void s_enum_word(const char *v, char *buf, size_t len) {
    const char *w = v ? strrchr(v, '_') : NULL;
    w = w ? w + 1 : (v ? v : "");
    size_t i = 0;
    for (; w[i] && i + 1 < len; i++)
        buf[i] = (char)tolower((unsigned char)w[i]);
    buf[i] = '\0';
}

static const char *s_str(json_t *o, const char *key) {
    const char *v = json_string_value(json_object_get(o, key));
    return v && *v ? v : NULL;
}

/* int64 members are strings in proto3 JSON; numbers are accepted too. */
static int64_t s_int(json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    if (json_is_integer(v))
        return (int64_t)json_integer_value(v);
    const char *s = json_string_value(v);
    return s ? strtoll(s, NULL, 10) : 0;
}

void tp_am_alert_clear(struct tp_am_alert *a) {
    free(a->alert_id);
    json_decref(a->am);
    *a = (struct tp_am_alert){ 0 };
}

int tp_am_alert_parse(const char *line, size_t len, char *why, size_t whylen,
                      struct tp_am_alert *ret) {
    json_error_t err;
    json_t      *in = json_loadb(line, len, 0, &err);
    const char  *id = in ? s_str(in, "alertId") : NULL, *rule = in ? s_str(in, "rule") : NULL;
    const char  *status = in ? s_str(in, "status") : NULL;
    if (!id || !rule || !status) {
        snprintf(why, whylen, "not an alert (%s)", in ? "no alertId, rule or status" : err.text);
        json_decref(in);
        return -EBADMSG;
    }
    struct tp_am_alert a = { .resolved = strstr(status, "RESOLVED") != NULL,
                             .sequence = (uint64_t)s_int(in, "sequence"),
                             .detected_ms = s_int(in, "detectedAtMs") };
    char               kind[32], severity[32], when[40];
    json_t            *labels = json_object(), *ann = json_object();
    s_enum_word(s_str(in, "kind"), kind, sizeof kind);
    s_enum_word(s_str(in, "severity"), severity, sizeof severity);
    tp_am_time(a.detected_ms, when, sizeof when);
    int bad = !labels || !ann;
    bad |= json_object_set_new(labels, "alertname", json_string(rule));
    if (kind[0])
        bad |= json_object_set_new(labels, "kind", json_string(kind));
    if (severity[0])
        bad |= json_object_set_new(labels, "severity", json_string(severity));
    for (size_t i = 0; i < sizeof s_subject_labels / sizeof s_subject_labels[0]; i++) {
        const char *v = s_str(in, s_subject_labels[i][0]);
        if (v)
            bad |= json_object_set_new(labels, s_subject_labels[i][1], json_string(v));
    }
    bad |= json_object_set_new(labels, "alert_id", json_string(id));
    json_t *evidence = json_object_get(in, "evidence");
    char   *ev =
        json_is_object(evidence) ? json_dumps(evidence, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    if (s_str(in, "summary"))
        bad |= json_object_set_new(ann, "summary", json_string(s_str(in, "summary")));
    bad |= json_object_set_new(ann, "evidence", json_string(ev ? ev : "{}"));
    bad |= json_object_set_new(ann, "detected_at", json_string(when));
    free(ev);
    a.am = json_object();
    bad |= !a.am || !(a.alert_id = strdup(id));
    bad |= json_object_set(a.am, "labels", labels);
    bad |= json_object_set(a.am, "annotations", ann);
    bad |= json_object_set_new(a.am, "startsAt", json_string(when));
    json_decref(labels);
    json_decref(ann);
    json_decref(in);
    if (bad) { /* a NULL json_string() (bad UTF-8 cannot come from tp_json) or out of memory */
        tp_am_alert_clear(&a);
        snprintf(why, whylen, "out of memory");
        return -ENOMEM;
    }
    *ret = a;
    return 0;
}
