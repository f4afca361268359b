/* tp_config — loading a config whole, freeing it, and the questions the
 * rules ask of it (required fields, SLAs, due times, feedback scales).
 *
 * tp_config_parse() builds a fresh tp_config_t: defaults first, then the
 * operator's document walked against the key table (tp_config_yaml.c), then
 * the cross-key checks (tp_config_checks.c). Any error refuses the whole
 * file, so a running daemon keeps its old config. tp-config-doc generates
 * the documented key reference from the same table.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <yaml.h>

#include "tp_config_internal.h"

#define TP_CONFIG_MAX_BYTES (1024 * 1024)

int tp_config_parse(const char *yaml, size_t len, const char *name, char *err, size_t errlen,
                    tp_config_t **ret) {
    tp_config_ctx_t p = { .name = name ? name : "<config>", .err = err, .errlen = errlen };
    yaml_document_t doc;
    bool            have_doc = false;
    yaml_node_t    *root;
    int             r;

    if (err && errlen)
        err[0] = '\0';
    if (!ret || (!yaml && len))
        return -EINVAL;
    if (len > TP_CONFIG_MAX_BYTES)
        return tp_config_fail(&p, NULL, "config larger than %d bytes", TP_CONFIG_MAX_BYTES);
    p.c = calloc(1, sizeof(*p.c));
    if (!p.c || !(p.c->path = strdup(p.name))) {
        r = -ENOMEM;
        goto fail;
    }
    if ((r = tp_config_apply_defaults(&p, tp_config_keys, tp_config_n_keys, p.c)) < 0)
        goto fail;
    if ((r = tp_config_yaml_load(&p, yaml ? yaml : "", len, &doc)) < 0)
        goto fail;
    have_doc = true;
    p.doc = &doc;
    root = yaml_document_get_root_node(&doc);
    if (root && !tp_config_node_is_null(root)) {
        if ((r = tp_config_node_expect(&p, "top level", root, YAML_MAPPING_NODE)) < 0 ||
            (r = tp_config_walk(&p, tp_config_keys, tp_config_n_keys, "", "", p.c, root)) < 0)
            goto fail;
    }
    if ((r = tp_config_check(&p)) < 0)
        goto fail;
    yaml_document_delete(&doc);
    *ret = p.c;
    return 0;
fail:
    if (have_doc)
        yaml_document_delete(&doc);
    tp_config_destroy(&p.c);
    return r;
}

/* Reads the file at `path` whole into a new buffer (caller frees). One byte
 * past the limit is read, so an oversized (or growing) file is caught. */
static int s_read_file(const char *path, char **ret_buf, size_t *ret_len) {
    FILE *f = fopen(path, "re");
    if (!f)
        return -errno;
    int   r = 0;
    char *buf = malloc(TP_CONFIG_MAX_BYTES + 1);
    if (!buf) {
        r = -ENOMEM;
        goto out;
    }
    errno = 0;
    size_t len = fread(buf, 1, TP_CONFIG_MAX_BYTES + 1, f);
    if (ferror(f))
        r = errno ? -errno : -EIO;
    else if (len > TP_CONFIG_MAX_BYTES)
        r = -EFBIG;
    if (r == 0) {
        *ret_buf = buf;
        *ret_len = len;
        buf = NULL;
    }
out:
    free(buf);
    fclose(f);
    return r;
}

int tp_config_load(const char *path, char *err, size_t errlen, tp_config_t **ret) {
    char  *buf = NULL;
    size_t len = 0;
    int    r = s_read_file(path, &buf, &len);
    if (r == -EFBIG && err && errlen)
        snprintf(err, errlen, "%s: file larger than %d bytes", path, TP_CONFIG_MAX_BYTES);
    else if (r < 0 && err && errlen)
        snprintf(err, errlen, "%s: %s", path, strerror(-r));
    else if (r == 0)
        r = tp_config_parse(buf, len, path, err, errlen, ret);
    free(buf);
    return r;
}

unsigned tp_config_required_fields(const tp_config_t *c, int channel) {
    if (channel >= 0 && channel < TP_CHANNEL_COUNT && c->call_incomplete.has_channel[channel])
        return c->call_incomplete.by_channel[channel];
    return c->call_incomplete.required;
}

int64_t tp_config_step_sla(const tp_config_t *c, const char *step, int contract_type) {
    for (size_t i = 0; step && i < c->step_slow.n_by_step; i++)
        if (!strcmp(c->step_slow.by_step[i].name, step))
            return c->step_slow.by_step[i].sla_ms;
    if (contract_type > 0 && contract_type < TP_CONTRACT_TYPE_COUNT &&
        c->step_slow.by_contract_type_ms[contract_type] > 0)
        return c->step_slow.by_contract_type_ms[contract_type];
    return c->step_slow.default_sla_ms;
}

unsigned tp_config_call_cutoff_day(const tp_config_t *c, int month0) {
    unsigned day = month0 >= 0 && month0 < 12 ? c->call_late.cutoff_by_month[month0 + 1] : 0;
    return day ? day : c->call_late.cutoff_day;
}

int64_t tp_config_call_due(const tp_config_t *c, int64_t call_at_ms) {
    if (c->call_late.style != TP_LATE_MONTHLY)
        return call_at_ms + c->call_late.submit_within_ms;
    time_t    secs = (time_t)(call_at_ms / 1000);
    struct tm tm;
    if (!gmtime_r(&secs, &tm))
        return INT64_MAX;
    struct tm cut = { .tm_year = tm.tm_year,
                      .tm_mon = tm.tm_mon + 1,
                      .tm_mday = (int)tp_config_call_cutoff_day(c, tm.tm_mon) + 1 };
    if (cut.tm_mon == 12) { /* December's calls: January, next year */
        cut.tm_mon = 0;
        cut.tm_year++;
    }
    return (int64_t)timegm(&cut) * 1000 - 1; /* the start of day N+1, less 1 ms */
}

const tp_feedback_source_t *tp_config_feedback_source(const tp_config_t *c, const char *source) {
    for (size_t i = 0; source && i < c->n_feedback_sources; i++)
        if (!strcmp(c->feedback_sources[i].name, source))
            return &c->feedback_sources[i];
    return NULL;
}

void tp_config_destroy(tp_config_t **p) {
    if (!p || !*p)
        return;
    tp_config_t *c = *p;
    for (size_t i = 0; i < TP_MAX_INPUTS; i++) {
        free(c->inputs[i].endpoint);
        free(c->inputs[i].curve_clients);
        free(c->inputs[i].curve_server_key);
    }
    free(c->output.curve_clients);
    free(c->output.curve_server_key);
    free(c->replay.endpoint.curve_clients);
    free(c->replay.endpoint.curve_server_key);
    free(c->reliable_input.endpoint.curve_clients);
    free(c->reliable_input.endpoint.curve_server_key);
    free(c->curve.secret_key_file);
    for (size_t i = 0; i < TP_MAX_FEEDBACK_SOURCES; i++)
        free(c->feedback_sources[i].name);
    for (size_t i = 0; i < TP_MAX_LUA_RULES; i++) {
        free(c->lua_rules[i].file);
        tp_config_tree_clear(&c->lua_rules[i].config);
    }
    free(c->output.endpoint);
    free(c->replay.endpoint.endpoint);
    free(c->reliable_input.endpoint.endpoint);
    free(c->state_dir);
    free(c->nats.url);
    free(c->nats.events_stream);
    free(c->nats.alerts_stream);
    free(c->nats.consumer);
    free(c->nats.instance);
    free(c->nats.lease_bucket);
    free(c->nats.snapshot_stream);
    free(c->http.listen);
    free(c->http.ingest.bearer_token_file);
    free(c->http.dashboard.bearer_token_file);
    free(c->http.dashboard.root);
    free(c->path);
    free(c);
    *p = NULL;
}

int64_t tp_config_call_horizon(const tp_config_t *c) {
    /* A monthly cut-off falls at most 31 + 28 days after a call. */
    int64_t late = c->call_late.style == TP_LATE_MONTHLY ? (int64_t)59 * 86400000
                                                         : c->call_late.submit_within_ms;
    int64_t unsub = c->call_unsubmitted.submit_within_ms;
    return late > unsub ? late : unsub;
}
