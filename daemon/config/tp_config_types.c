/* tp_config_types — one setter per key type: how a YAML node becomes a
 * bool, an integer in range, a duration, an endpoint, an enum, a field set,
 * or one of the structured keys (inputs, by_channel, by_step, targets,
 * cutoff_by_month, feedback_sources). Called by the walker
 * (tp_config_yaml.c) through tp_config_setters[], one per tp_config_type_t. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "tp_config_internal.h"

static int s_set_bool(tp_config_ctx_t *p, const tp_config_key_t *k, const char *path, void *base,
                      yaml_node_t *n) {
    const char *v;
    int         r = tp_config_node_text(p, path, n, &v);
    if (r < 0)
        return r;
    if (strcmp(v, "true") && strcmp(v, "false"))
        return tp_config_fail(p, n, "%s: invalid boolean \"%.64s\" (expected true or false)", path,
                              v);
    tp_config_store((char *)base + k->off, k->size, !strcmp(v, "true"));
    return 0;
}

static int s_set_int(tp_config_ctx_t *p, const tp_config_key_t *k, const char *path, void *base,
                     yaml_node_t *n) {
    const char *v;
    int64_t     i = 0;
    int         r = tp_config_node_text(p, path, n, &v);
    if (r < 0)
        return r;
    r = tp_config_parse_i64(v, k->type == TP_CONFIG_INT, &i);
    if (r < 0 || i < k->min || i > k->max)
        return tp_config_fail(p, n, "%s: %s \"%.64s\" (expected an integer from %lld to %lld)",
                              path, r == -EINVAL ? "invalid number" : "out of range", v,
                              (long long)k->min, (long long)k->max);
    tp_config_store((char *)base + k->off, k->size, i);
    return 0;
}

static int s_set_duration(tp_config_ctx_t *p, const tp_config_key_t *k, const char *path,
                          void *base, yaml_node_t *n) {
    int64_t ms;
    int     r = tp_config_node_duration(p, path, n, k->min, k->max, &ms);
    if (r < 0)
        return r;
    tp_config_store((char *)base + k->off, k->size, ms);
    return 0;
}

static int s_set_string(tp_config_ctx_t *p, const tp_config_key_t *k, const char *path, void *base,
                        yaml_node_t *n) {
    char      **dst = (char **)((char *)base + k->off);
    const char *v;
    int         r = tp_config_node_text(p, path, n, &v);
    if (r < 0)
        return r;
    if (!*v)
        return tp_config_fail(p, n, "%s: expected a non-empty string", path);
    char     host[64];
    unsigned port;
    if (k->type == TP_CONFIG_LISTEN && tp_config_listen_parse(v, host, sizeof host, &port) < 0)
        return tp_config_fail(p, n,
                              "%s: invalid address \"%.64s\" (expected host:port with a numeric "
                              "IPv4 host or [IPv6], port 0..65535)",
                              path, v);
    if (k->type == TP_CONFIG_ENDPOINT) {
        if (strncmp(v, "tcp://", 6) && strncmp(v, "ipc://", 6) && strncmp(v, "inproc://", 9))
            return tp_config_fail(p, n,
                                  "%s: invalid endpoint \"%.64s\" (expected tcp://, ipc:// or "
                                  "inproc://)",
                                  path, v);
        /* Remember where each endpoint was set, for the bound-twice check. */
        tp_config_t *c = p->c;
        size_t       slot = SIZE_MAX;
        if (dst == &c->output.endpoint)
            slot = TP_CONFIG_SLOT_OUTPUT;
        else if (dst == &c->replay.endpoint.endpoint)
            slot = TP_CONFIG_SLOT_REPLAY;
        else if (dst == &c->reliable_input.endpoint.endpoint)
            slot = TP_CONFIG_SLOT_RELIABLE;
        else
            for (size_t i = 0; i < TP_MAX_INPUTS; i++)
                if (dst == &c->inputs[i].endpoint)
                    slot = i;
        if (slot != SIZE_MAX)
            p->ep_line[slot] = p->defaults ? 0 : (unsigned)n->start_mark.line + 1;
    }
    char *copy = strdup(v);
    if (!copy)
        return -ENOMEM;
    free(*dst);
    *dst = copy;
    return 0;
}

/* An optional string: "" (the default) stores NULL. A Z85 key must be a
 * CURVE public key as tp-keygen prints it: 40 characters that decode. */
static int s_set_opt_string(tp_config_ctx_t *p, const tp_config_key_t *k, const char *path,
                            void *base, yaml_node_t *n) {
    char      **dst = (char **)((char *)base + k->off);
    const char *v;
    int         r = tp_config_node_text(p, path, n, &v);
    if (r < 0)
        return r;
    if (k->type == TP_CONFIG_Z85 && *v) {
        uint8_t key[32];
        if (strlen(v) != TP_Z85_KEY_LEN || !zmq_z85_decode(key, v))
            return tp_config_fail(p, n,
                                  "%s: invalid CURVE key \"%.64s\" (expected %d Z85 characters "
                                  "as tp-keygen prints them)",
                                  path, v, TP_Z85_KEY_LEN);
    }
    if (dst == &p->c->curve.secret_key_file)
        p->curve_line = p->defaults ? 0 : (unsigned)n->start_mark.line + 1;
    char *copy = NULL;
    if (*v && !(copy = strdup(v)))
        return -ENOMEM;
    free(*dst);
    *dst = copy;
    return 0;
}

static int s_set_enum(tp_config_ctx_t *p, const tp_config_key_t *k, const char *path, void *base,
                      yaml_node_t *n) {
    const char *v;
    int         r = tp_config_node_text(p, path, n, &v);
    if (r < 0)
        return r;
    for (size_t i = 0; k->names[i]; i++)
        if (!strcmp(v, k->names[i])) {
            tp_config_store((char *)base + k->off, k->size, (int64_t)i);
            return 0;
        }
    return tp_config_fail(p, n, "%s: invalid value \"%.64s\" (expected %s or %s)", path, v,
                          k->names[0], k->names[1]);
}

/* A YAML list of call field names into a TP_FIELD_* mask. */
static int s_fieldset(tp_config_ctx_t *p, const char *path, yaml_node_t *n, unsigned *ret_mask) {
    unsigned mask = 0;
    int      r = tp_config_node_expect(p, path, n, YAML_SEQUENCE_NODE);
    if (r < 0)
        return r;
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
         it++) {
        yaml_node_t *in = yaml_document_get_node(p->doc, *it);
        const char  *v;
        if ((r = tp_config_node_text(p, path, in, &v)) < 0)
            return r;
        unsigned bit = tp_config_field_from_name(v);
        if (!bit)
            return tp_config_fail(p, in,
                                  "%s: unknown field \"%.64s\" (expected products, topics, notes, "
                                  "next_step, attendees, account_id or territory)",
                                  path, v);
        mask |= bit;
    }
    *ret_mask = mask;
    return 0;
}

static int s_set_fieldset(tp_config_ctx_t *p, const tp_config_key_t *k, const char *path,
                          void *base, yaml_node_t *n) {
    unsigned mask;
    int      r = s_fieldset(p, path, n, &mask);
    if (r < 0)
        return r;
    memcpy((char *)base + k->off, &mask, sizeof(mask));
    return 0;
}

/* "EMAIL" or "CHANNEL_EMAIL" -> 4; enum value, or -1 when unknown. */
static int s_enum_value(const char *v, const char *prefix, const char *const *names, size_t n) {
    size_t pl = strlen(prefix);
    if (!strncmp(v, prefix, pl))
        v += pl;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(v, names[i]))
            return (int)i + 1;
    return -1;
}

/* by_channel (CHANNEL: [fields]) and targets (CONTRACT_TYPE: duration): keys
 * are proto enum names, short or prefixed, and index the arrays by enum value.
 * by_channel replaces the (empty) default; targets merge over the defaults,
 * so a partial map overrides only the types it lists. */
static int s_set_enum_map(tp_config_ctx_t *p, const tp_config_key_t *k, const char *path,
                          void *base, yaml_node_t *n) {
    (void)base;
    tp_config_t *c = p->c;
    bool         channels = k->type == TP_CONFIG_BY_CHANNEL,
         seen[TP_CHANNEL_COUNT + TP_CONTRACT_TYPE_COUNT] = { 0 };
    const char *noun = channels ? "channel" : "contract type";
    int         r = tp_config_node_expect(p, path, n, YAML_MAPPING_NODE);
    if (r < 0)
        return r;
    if (channels)
        memset(c->call_incomplete.has_channel, 0, sizeof(c->call_incomplete.has_channel));
    for (yaml_node_pair_t *pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top; pr++) {
        yaml_node_t *kn, *vn = yaml_document_get_node(p->doc, pr->value);
        const char  *key;
        if ((r = tp_config_pair_key(p, path, n, pr, &kn, &key)) < 0)
            return r;
        int v = channels
                    ? s_enum_value(key, "CHANNEL_", tp_config_channel_names, TP_CHANNEL_COUNT - 1)
                    : s_enum_value(key, "CONTRACT_TYPE_", tp_config_contract_type_names,
                                   TP_CONTRACT_TYPE_COUNT - 1);
        if (v < 0)
            return tp_config_fail(p, kn, "%s: unknown %s \"%.64s\" (expected %s)", path, noun, key,
                                  channels ? "IN_PERSON, PHONE, VIDEO, EMAIL, MESSAGING or WEBINAR"
                                           : "SPEAKER, ADVISORY_BOARD, CONSULTING, ISS or GRANT");
        if (seen[v])
            return tp_config_fail(p, kn, "%s: %s \"%.64s\" given twice", path, noun, key);
        seen[v] = true;
        r = channels ? s_fieldset(p, path, vn, &c->call_incomplete.by_channel[v])
                     : tp_config_node_duration(p, path, vn, 1, TP_CONFIG_DURATION_MAX_MS,
                                               (int64_t *)((char *)c + k->off) + v);
        if (r < 0)
            return r;
        if (channels)
            c->call_incomplete.has_channel[v] = true;
    }
    return 0;
}

/* cutoff_by_month (MONTH: day): JAN..DEC index cutoff_by_month[1..12]. */
static int s_set_by_month(tp_config_ctx_t *p, const tp_config_key_t *k, const char *path,
                          void *base, yaml_node_t *n) {
    unsigned *days = (unsigned *)((char *)base + k->off);
    bool      seen[13] = { 0 };
    int       r = tp_config_node_expect(p, path, n, YAML_MAPPING_NODE);
    if (r < 0)
        return r;
    memset(days, 0, k->size);
    for (yaml_node_pair_t *pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top; pr++) {
        yaml_node_t *kn, *vn = yaml_document_get_node(p->doc, pr->value);
        const char  *key, *text;
        int64_t      day;
        if ((r = tp_config_pair_key(p, path, n, pr, &kn, &key)) < 0)
            return r;
        int m = s_enum_value(key, "", tp_config_month_names, 12);
        if (m < 0)
            return tp_config_fail(p, kn, "%s: unknown month \"%.64s\" (expected JAN..DEC)", path,
                                  key);
        if (seen[m])
            return tp_config_fail(p, kn, "%s: month \"%.64s\" given twice", path, key);
        seen[m] = true;
        if ((r = tp_config_node_text(p, path, vn, &text)) < 0)
            return r;
        if (tp_config_parse_i64(text, false, &day) < 0 || day < k->min || day > k->max)
            return tp_config_fail(p, vn, "%s.%s: invalid day \"%.64s\" (expected %lld..%lld)", path,
                                  key, text, (long long)k->min, (long long)k->max);
        days[m] = (unsigned)day;
    }
    return 0;
}

static int s_set_by_step(tp_config_ctx_t *p, const tp_config_key_t *k, const char *path, void *base,
                         yaml_node_t *n) {
    (void)k, (void)base;
    tp_config_t *c = p->c;
    int          r = tp_config_node_expect(p, path, n, YAML_MAPPING_NODE);
    if (r < 0)
        return r;
    c->step_slow.n_by_step = 0;
    for (yaml_node_pair_t *pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top; pr++) {
        yaml_node_t *kn = yaml_document_get_node(p->doc, pr->key);
        const char  *key;
        /* Count first: it also bounds the quadratic duplicate check. */
        if (c->step_slow.n_by_step == TP_MAX_STEP_SLAS)
            return tp_config_fail(p, kn, "%s: too many steps (at most %d)", path, TP_MAX_STEP_SLAS);
        if ((r = tp_config_pair_key(p, path, n, pr, &kn, &key)) < 0)
            return r;
        if (!*key || strlen(key) >= TP_STEP_NAME_MAX)
            return tp_config_fail(p, kn, "%s: step name \"%.64s\" must be 1 to %d characters", path,
                                  key, TP_STEP_NAME_MAX - 1);
        tp_step_sla_t *s = &c->step_slow.by_step[c->step_slow.n_by_step];
        r = tp_config_node_duration(p, path, yaml_document_get_node(p->doc, pr->value), 1,
                                    TP_CONFIG_DURATION_MAX_MS, &s->sla_ms);
        if (r < 0)
            return r;
        memcpy(s->name, key, strlen(key) + 1);
        c->step_slow.n_by_step++;
    }
    return 0;
}


/* One item of a list or map of sub-tables (an input, a feedback source):
 * a mapping, its keys' defaults first, then what the file says. */
int tp_config_walk_item(tp_config_ctx_t *p, const tp_config_key_t *keys, size_t n_keys,
                        const char *item_path, void *base, yaml_node_t *item) {
    int r = tp_config_node_expect(p, item_path, item, YAML_MAPPING_NODE);
    if (r == 0)
        r = tp_config_apply_defaults(p, keys, n_keys, base);
    if (r == 0)
        r = tp_config_walk(p, keys, n_keys, item_path, "", base, item);
    return r;
}

/* A list or map of `kind` holding min..max entries (min 0: "at most"),
 * its count in *ret_count. */
static int s_expect_count(tp_config_ctx_t *p, const char *path, yaml_node_t *n,
                          yaml_node_type_t kind, size_t min, size_t max, const char *noun,
                          size_t *ret_count) {
    int r = tp_config_node_expect(p, path, n, kind);
    if (r < 0)
        return r;
    size_t count = kind == YAML_SEQUENCE_NODE
                       ? (size_t)(n->data.sequence.items.top - n->data.sequence.items.start)
                       : (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    if (min > 0 && (count < min || count > max))
        return tp_config_fail(p, n, "%s: expected %zu to %zu %s, got %zu", path, min, max, noun,
                              count);
    if (count > max)
        return tp_config_fail(p, n, "%s: at most %zu %s, got %zu", path, max, noun, count);
    *ret_count = count;
    return 0;
}

static int s_set_inputs(tp_config_ctx_t *p, const tp_config_key_t *k, const char *path, void *base,
                        yaml_node_t *n) {
    (void)base;
    tp_config_t *c = p->c;
    size_t       count = 0;
    int          r = s_expect_count(p, path, n, YAML_SEQUENCE_NODE, (size_t)k->min, (size_t)k->max,
                                    "endpoints", &count);
    if (r < 0)
        return r;
    for (size_t i = 0; i < c->n_inputs; i++) {
        free(c->inputs[i].endpoint);
        free(c->inputs[i].curve_clients);
        free(c->inputs[i].curve_server_key);
        c->inputs[i] = (tp_endpoint_t){ 0 };
    }
    c->n_inputs = 0;
    for (size_t i = 0; i < count; i++) {
        yaml_node_t *item = yaml_document_get_node(p->doc, n->data.sequence.items.start[i]);
        char         item_path[32];
        snprintf(item_path, sizeof(item_path), "inputs[%zu]", i);
        c->n_inputs = i + 1; /* from here on, destroy frees this slot */
        if ((r = tp_config_walk_item(p, tp_config_input_keys, tp_config_n_input_keys, item_path,
                                     &c->inputs[i], item)) < 0)
            return r;
        if (!c->inputs[i].endpoint)
            return tp_config_fail(p, item, "%s: missing required key \"endpoint\"", item_path);
    }
    return 0;
}

/* feedback_sources: SOURCE -> {nps_max, effort_scale, effort_high_is_hard,
 * effort_threshold}; replaces the (empty) default. */
static int s_set_feedback_sources(tp_config_ctx_t *p, const tp_config_key_t *k, const char *path,
                                  void *base, yaml_node_t *n) {
    (void)base;
    tp_config_t *c = p->c;
    size_t       count = 0;
    int r = s_expect_count(p, path, n, YAML_MAPPING_NODE, 0, (size_t)k->max, "sources", &count);
    if (r < 0)
        return r;
    for (size_t i = 0; i < c->n_feedback_sources; i++) {
        free(c->feedback_sources[i].name);
        c->feedback_sources[i].name = NULL;
    }
    c->n_feedback_sources = 0;
    for (yaml_node_pair_t *pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top; pr++) {
        yaml_node_t *kn, *vn = yaml_document_get_node(p->doc, pr->value);
        const char  *key;
        if ((r = tp_config_pair_key(p, path, n, pr, &kn, &key)) < 0)
            return r;
        for (size_t i = 0; i < c->n_feedback_sources; i++)
            if (!strcmp(c->feedback_sources[i].name, key))
                return tp_config_fail(p, kn, "%s: source \"%.64s\" given twice", path, key);
        tp_feedback_source_t *fs = &c->feedback_sources[c->n_feedback_sources];
        char                  item_path[TP_CONFIG_PATH_LEN];
        snprintf(item_path, sizeof item_path, "%s.%.64s", path, key);
        if (!(fs->name = strdup(key)))
            return -ENOMEM;
        c->n_feedback_sources++; /* from here on, destroy frees this slot */
        if ((r = tp_config_walk_item(p, tp_config_feedback_source_keys,
                                     tp_config_n_feedback_source_keys, item_path, fs, vn)) < 0)
            return r;
        if (fs->effort_threshold > fs->effort_scale)
            return tp_config_fail(p, vn, "%s.effort_threshold: %d is outside the scale 1..%d",
                                  item_path, fs->effort_threshold, fs->effort_scale);
        /* A threshold at the easy end makes every answer a detractor: the
         * usual slip when a reversed scale keeps the default threshold. */
        if (fs->effort_high_is_hard ? fs->effort_threshold <= 1
                                    : fs->effort_threshold >= fs->effort_scale)
            return tp_config_fail(p, vn,
                                  "%s.effort_threshold: %d would make every effort score a "
                                  "detractor on a 1..%d scale where %s is hardest",
                                  item_path, fs->effort_threshold, fs->effort_scale,
                                  fs->effort_high_is_hard ? "the highest" : "1");
    }
    return 0;
}

/* nats.partitions: a list of distinct partition numbers k->min..k->max
 * (partition_count is checked once the whole file is read). */
static int s_set_partitions(tp_config_ctx_t *p, const tp_config_key_t *k, const char *path,
                            void *base, yaml_node_t *n) {
    (void)base;
    tp_config_t *c = p->c;
    size_t       count = 0;
    int r = s_expect_count(p, path, n, YAML_SEQUENCE_NODE, 0, TP_NATS_MAX_PARTITIONS, "partitions",
                           &count);
    if (r < 0)
        return r;
    c->nats.n_partitions = 0;
    for (size_t i = 0; i < count; i++) {
        yaml_node_t *in = yaml_document_get_node(p->doc, n->data.sequence.items.start[i]);
        const char  *v;
        int64_t      x;
        if ((r = tp_config_node_text(p, path, in, &v)) < 0)
            return r;
        if (tp_config_parse_i64(v, false, &x) < 0 || x < k->min || x > k->max)
            return tp_config_fail(p, in, "%s: \"%.64s\" is not a partition number %lld..%lld", path,
                                  v, (long long)k->min, (long long)k->max);
        for (size_t j = 0; j < c->nats.n_partitions; j++)
            if (c->nats.partitions[j] == (unsigned)x)
                return tp_config_fail(p, in, "%s: partition %lld listed twice", path, (long long)x);
        c->nats.partitions[c->nats.n_partitions++] = (unsigned)x;
    }
    return 0;
}

const tp_config_setter_fn tp_config_setters[] = {
    [TP_CONFIG_BOOL] = s_set_bool,
    [TP_CONFIG_UINT] = s_set_int,
    [TP_CONFIG_INT] = s_set_int,
    [TP_CONFIG_DURATION] = s_set_duration,
    [TP_CONFIG_STRING] = s_set_string,
    [TP_CONFIG_ENDPOINT] = s_set_string,
    [TP_CONFIG_ENUM] = s_set_enum,
    [TP_CONFIG_OPT_STRING] = s_set_opt_string,
    [TP_CONFIG_Z85] = s_set_opt_string,
    [TP_CONFIG_LISTEN] = s_set_string,
    [TP_CONFIG_FIELDSET] = s_set_fieldset,
    [TP_CONFIG_INPUTS] = s_set_inputs,
    [TP_CONFIG_BY_CHANNEL] = s_set_enum_map,
    [TP_CONFIG_BY_STEP] = s_set_by_step,
    [TP_CONFIG_TARGETS] = s_set_enum_map,
    [TP_CONFIG_BY_MONTH] = s_set_by_month,
    [TP_CONFIG_FEEDBACK_SOURCES] = s_set_feedback_sources,
    [TP_CONFIG_PARTITIONS] = s_set_partitions,
    [TP_CONFIG_LUA_RULES] = tp_config_set_lua_rules,
    [TP_CONFIG_TREE] = tp_config_set_tree,
    [TP_CONFIG_SIZE] = tp_config_set_size,
};
