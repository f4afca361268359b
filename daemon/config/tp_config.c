/* tp_config — YAML configuration, parsed and validated as a whole.
 *
 * Every key is one row of tp_config_keys[] (tp_config_keys.c: dotted path,
 * type, offset, limits, default, description), handled by one setter per
 * type (tp_config_types.c). This file loads the document, walks it against
 * the table and checks what spans keys (endpoints bound twice). Defaults are
 * YAML text in the same rows and go through the same setters as the
 * operator's file, so a default can never bypass validation; tp-config-doc
 * generates the documented key reference from the table. libyaml's document API gives
 * a node tree whose marks carry the line numbers we report (1-based).
 */
#include "tp_config.h"
#include "tp_config_keys.h"
#include "tp_config_parse.h"

#define TP_CONFIG_MAX_BYTES (1024 * 1024)
#define TP_CONFIG_MAX_DEPTH 32

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <yaml.h>

__attribute__((format(printf, 3, 4)))
int tp_cfg_fail(pctx_t *p, const yaml_node_t *n, const char *fmt, ...)
{
    if (!p->err || p->errlen == 0)
        return -EINVAL;
    int at = n ? snprintf(p->err, p->errlen, "%s:%zu: ", p->name,
                          p->defaults ? (size_t)0 : n->start_mark.line + 1)
               : snprintf(p->err, p->errlen, "%s: ", p->name);
    if (at >= 0 && (size_t)at < p->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->err + at, p->errlen - (size_t)at, fmt, ap);
        va_end(ap);
    }
    /* Values come from the file; keep the error on one line whatever they hold. */
    for (char *s = p->err; *s; s++)
        if ((unsigned char)*s < 0x20)
            *s = '?';
    return -EINVAL;
}

const char *tp_cfg_kind(const yaml_node_t *n)
{
    return n->type == YAML_MAPPING_NODE ? "mapping" : n->type == YAML_SEQUENCE_NODE ? "list" : "scalar";
}

bool tp_cfg_is_null(const yaml_node_t *n)
{
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *v = (const char *)n->data.scalar.value;
    return !*v || !strcmp(v, "~") || !strcmp(v, "null");
}

/* The text of a scalar node, refusing other node kinds and embedded NULs. */
int tp_cfg_text(pctx_t *p, const char *path, const yaml_node_t *n, const char **ret_text)
{
    if (n->type != YAML_SCALAR_NODE)
        return tp_cfg_fail(p, n, "%s: expected a scalar, got a %s", path, tp_cfg_kind(n));
    const char *v = (const char *)n->data.scalar.value;
    if (strlen(v) != n->data.scalar.length)
        return tp_cfg_fail(p, n, "%s: value contains a NUL byte", path);
    *ret_text = v;
    return 0;
}

int tp_cfg_expect(pctx_t *p, const char *path, const yaml_node_t *n, yaml_node_type_t t)
{
    if (n->type == t)
        return 0;
    return tp_cfg_fail(p, n, "%s: expected a %s, got a %s", path,
                  t == YAML_MAPPING_NODE ? "mapping" : "list", tp_cfg_kind(n));
}

/* Key of pair `pr` in `map`: a scalar not already used by an earlier pair. */
int tp_cfg_pair_key(pctx_t *p, const char *path, yaml_node_t *map, yaml_node_pair_t *pr,
                      yaml_node_t **ret_node, const char **ret_key)
{
    yaml_node_t *kn = yaml_document_get_node(p->doc, pr->key);
    const char *key = "";        /* set by tp_cfg_text; -O3 cannot see it */
    int r = tp_cfg_text(p, *path ? path : "top level", kn, &key);
    if (r < 0)
        return r;
    for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < pr; q++) {
        yaml_node_t *qn = yaml_document_get_node(p->doc, q->key);
        if (qn->type == YAML_SCALAR_NODE && !strcmp((const char *)qn->data.scalar.value, key))
            return tp_cfg_fail(p, kn, "duplicate key \"%s%s%.64s\"", path, *path ? "." : "", key);
    }
    *ret_node = kn;
    *ret_key = key;
    return 0;
}

/* Writes an integer into a field of any width the table describes. */
void tp_cfg_store(void *dst, size_t size, int64_t v)
{
    if (size == sizeof(bool)) {
        bool b = v != 0;
        memcpy(dst, &b, sizeof(b));
    } else if (size == sizeof(uint32_t)) {
        uint32_t u = (uint32_t)v;
        memcpy(dst, &u, sizeof(u));
    } else {
        memcpy(dst, &v, sizeof(v));
    }
}

/* Decimal digits only, optional leading '-' when `sign`: no spaces, no '+',
 * no hex. Returns -EINVAL for bad syntax, -ERANGE when it does not fit. */
int tp_cfg_parse_i64(const char *s, bool sign, int64_t *ret_v)
{
    bool neg = sign && *s == '-';
    s += neg;
    if (!isdigit((unsigned char)*s))
        return -EINVAL;
    int64_t v = 0;
    bool overflow = false;
    for (; isdigit((unsigned char)*s); s++) {
        int d = *s - '0';
        if (v > (INT64_MAX - d) / 10)
            overflow = true;
        else
            v = v * 10 + d;
    }
    if (*s)
        return -EINVAL;
    if (overflow)
        return -ERANGE;
    *ret_v = neg ? -v : v;
    return 0;
}

static int s_duration(const char *s, int64_t *ret_ms)
{
    static const struct { const char *unit; int64_t ms; } units[] = {
        { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 },
        { "d", 86400000 }, { "w", 604800000 },
    };
    size_t digits = 0;
    while (isdigit((unsigned char)s[digits]))
        digits++;
    if (digits == 0 || digits > 19)
        return digits ? -ERANGE : -EINVAL;
    for (size_t i = 0; i < N_ELEMS(units); i++) {
        if (strcmp(s + digits, units[i].unit))
            continue;
        char num[20];
        int64_t v;
        memcpy(num, s, digits);
        num[digits] = '\0';
        if (tp_cfg_parse_i64(num, false, &v) < 0 || v > INT64_MAX / units[i].ms)
            return -ERANGE;
        *ret_ms = v * units[i].ms;
        return 0;
    }
    return -EINVAL;
}

int tp_duration_parse(const char *s, int64_t *ret_ms)
{
    if (!s || !ret_ms)
        return -EINVAL;
    int64_t ms;
    if (s_duration(s, &ms) < 0 || ms == 0)
        return -EINVAL;
    *ret_ms = ms;
    return 0;
}

/* A duration node, with the error every duration key reports. */
int tp_cfg_duration_node(pctx_t *p, const char *path, yaml_node_t *n, int64_t min,
                           int64_t max, int64_t *ret_ms)
{
    const char *v = "";          /* set by tp_cfg_text; -O3 cannot see it */
    int64_t ms = 0;
    int r = tp_cfg_text(p, path, n, &v);
    if (r < 0)
        return r;
    r = s_duration(v, &ms);
    if (r == -EINVAL)
        return tp_cfg_fail(p, n, "%s: invalid duration \"%.64s\" (expected a number with a unit: "
                      "ms, s, m, h, d, w)", path, v);
    if (r < 0 || ms > max || ms < min)
        return tp_cfg_fail(p, n, "%s: duration \"%.64s\" out of range (expected %s and at most "
                      "%lld%s)", path, v, min ? "more than 0" : "0 or more",
                      (long long)(max >= 86400000 ? max / 86400000 : max),
                      max >= 86400000 ? "d" : "ms");
    *ret_ms = ms;
    return 0;
}


/* libyaml's problem text and line, as one "YAML syntax error" line. */
static int s_syntax(pctx_t *p, const yaml_parser_t *parser)
{
    yaml_node_t at = { .start_mark = parser->problem_mark };
    if (parser->error == YAML_MEMORY_ERROR)
        return -ENOMEM;
    if (parser->context)
        return tp_cfg_fail(p, &at, "YAML syntax error: %s %s started on line %zu", parser->problem,
                      parser->context, parser->context_mark.line + 1);
    return tp_cfg_fail(p, &at, "YAML syntax error: %s", parser->problem ? parser->problem : "unknown");
}

/* Loads the single YAML document in `text`. A first pass over events refuses
 * a second document and deep nesting before any tree is built: libyaml's
 * scanner is quadratic in flow depth, so "[[[[..." in a 1 MiB file would
 * otherwise stall start-up for minutes. */
static int s_load(pctx_t *p, const char *text, size_t len, yaml_document_t *ret_doc)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    yaml_event_t ev;
    int r = 0, depth = 0, docs = 0;
    bool done = false;

    if (!yaml_parser_initialize(&parser))
        return -ENOMEM;
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    while (r == 0 && !done) {
        if (!yaml_parser_parse(&parser, &ev)) {
            r = s_syntax(p, &parser);
            break;
        }
        yaml_node_t at = { .start_mark = ev.start_mark };
        if (ev.type == YAML_DOCUMENT_START_EVENT && ++docs > 1)
            r = tp_cfg_fail(p, &at, "expected a single YAML document, found another one");
        else if ((ev.type == YAML_SEQUENCE_START_EVENT || ev.type == YAML_MAPPING_START_EVENT) &&
                 ++depth > TP_CONFIG_MAX_DEPTH)
            r = tp_cfg_fail(p, &at, "nesting deeper than %d levels", TP_CONFIG_MAX_DEPTH);
        else if (ev.type == YAML_SEQUENCE_END_EVENT || ev.type == YAML_MAPPING_END_EVENT)
            depth--;
        done = ev.type == YAML_STREAM_END_EVENT;
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    if (r < 0)
        return r;
    if (!yaml_parser_initialize(&parser))
        return -ENOMEM;
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (yaml_parser_load(&parser, &doc))
        *ret_doc = doc;
    else
        r = s_syntax(p, &parser);
    yaml_parser_delete(&parser);
    return r;
}

static const cfg_key_t *s_find(const cfg_key_t *keys, size_t n_keys, const char *path)
{
    for (size_t i = 0; i < n_keys; i++)
        if (!strcmp(keys[i].path, path))
            return &keys[i];
    return NULL;
}

/* Is `path` a proper prefix (a section) of some key? */
static bool s_is_section(const cfg_key_t *keys, size_t n_keys, const char *path)
{
    size_t len = strlen(path);
    for (size_t i = 0; i < n_keys; i++)
        if (!strncmp(keys[i].path, path, len) && keys[i].path[len] == '.')
            return true;
    return false;
}

/* Walks a mapping whose keys are `rel`.KEY in `keys`; sections recurse.
 * `root` prefixes the key in messages ("inputs[2]"). */
int tp_cfg_walk(pctx_t *p, const cfg_key_t *keys, size_t n_keys, const char *root,
                  const char *rel, void *base, yaml_node_t *map)
{
    char where[PATH_LEN];
    snprintf(where, sizeof(where), "%s%s%s", root, *root && *rel ? "." : "", rel);
    for (yaml_node_pair_t *pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top; pr++) {
        yaml_node_t *kn, *vn = yaml_document_get_node(p->doc, pr->value);
        const char *key;
        char sub[PATH_LEN], path[PATH_LEN];
        int r = tp_cfg_pair_key(p, where, map, pr, &kn, &key);
        if (r < 0)
            return r;
        /* A key too long for the buffers is no key of ours. */
        bool fits = snprintf(sub, sizeof(sub), "%s%s%s", rel, *rel ? "." : "", key) < PATH_LEN &&
                    snprintf(path, sizeof(path), "%s%s%s", root, *root ? "." : "", sub) < PATH_LEN;
        const cfg_key_t *k = fits ? s_find(keys, n_keys, sub) : NULL;
        if (k)
            r = tp_cfg_setters[k->type](p, k, path, base, vn);
        else if (!fits || !s_is_section(keys, n_keys, sub))
            r = tp_cfg_fail(p, kn, "unknown key \"%.100s\"", fits ? path : key);
        else if (tp_cfg_is_null(vn))
            r = 0;      /* "rules:" with nothing under it: all defaults */
        else if ((r = tp_cfg_expect(p, path, vn, YAML_MAPPING_NODE)) == 0)
            r = tp_cfg_walk(p, keys, n_keys, root, sub, base, vn);
        if (r < 0)
            return r;
    }
    return 0;
}

/* Runs each key's default YAML through its own setter. */
int tp_cfg_apply_defaults(pctx_t *p, const cfg_key_t *keys, size_t n_keys, void *base)
{
    yaml_document_t *user = p->doc;
    bool was = p->defaults;
    int r = 0;
    p->defaults = true;
    for (size_t i = 0; i < n_keys && r >= 0; i++) {
        yaml_document_t doc;
        if (!keys[i].def)
            continue;
        if ((r = s_load(p, keys[i].def, strlen(keys[i].def), &doc)) < 0)
            break;
        p->doc = &doc;
        r = tp_cfg_setters[keys[i].type](p, &keys[i], keys[i].path, base,
                                    yaml_document_get_root_node(&doc));
        yaml_document_delete(&doc);
    }
    p->doc = user;
    p->defaults = was;
    return r;
}

/* ZeroMQ refuses a second bind of one address; say so at load time instead. */
static int s_check_binds(pctx_t *p)
{
    tp_config_t *c = p->c;
    const tp_endpoint_t *ep[TP_MAX_INPUTS + 3];
    size_t slot[TP_MAX_INPUTS + 3];
    char name[TP_MAX_INPUTS + 3][32];
    size_t n = 0;
    for (size_t i = 0; i < c->n_inputs; i++, n++) {
        ep[n] = &c->inputs[i];
        slot[n] = i;
        snprintf(name[n], sizeof name[n], "inputs[%zu]", i);
    }
    ep[n] = &c->output;
    slot[n] = TP_MAX_INPUTS;
    snprintf(name[n++], sizeof name[0], "output");
    if (c->replay.enabled) {
        ep[n] = &c->replay.endpoint;
        slot[n] = TP_MAX_INPUTS + 1;
        snprintf(name[n++], sizeof name[0], "replay");
    }
    if (c->reliable_input.enabled) {
        ep[n] = &c->reliable_input.endpoint;
        slot[n] = TP_MAX_INPUTS + 2;
        snprintf(name[n++], sizeof name[0], "reliable_input");
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++) {
            if (ep[i]->mode != TP_MODE_BIND || ep[j]->mode != TP_MODE_BIND ||
                strcmp(ep[i]->endpoint, ep[j]->endpoint))
                continue;
            bool later_j = p->ep_line[slot[j]] >= p->ep_line[slot[i]];
            size_t line = later_j ? p->ep_line[slot[j]] : p->ep_line[slot[i]];
            yaml_node_t at = { .start_mark.line = line ? line - 1 : 0 };
            return tp_cfg_fail(p, &at, "%s.endpoint: \"%.64s\" is already bound by %s",
                          later_j ? name[j] : name[i], ep[i]->endpoint,
                          later_j ? name[i] : name[j]);
        }
    return 0;
}

/* Names every endpoint by its role (the ZAP domain and what logs call it)
 * and, with CURVE on, checks each has what its side of the handshake
 * needs. A list of keys with CURVE off is refused too: an operator who
 * wrote one believes the endpoint is protected. */
static int s_check_curve(pctx_t *p)
{
    tp_config_t *c = p->c;
    tp_endpoint_t *ep[TP_MAX_INPUTS + 3];
    size_t slot[TP_MAX_INPUTS + 3], n = 0;
    bool on = c->curve.secret_key_file != NULL;
    for (size_t i = 0; i < c->n_inputs; i++, n++) {
        ep[n] = &c->inputs[i];
        slot[n] = i;
        snprintf(ep[n]->name, sizeof ep[n]->name, "inputs[%zu]", i);
    }
    ep[n] = &c->output;
    slot[n++] = TP_MAX_INPUTS;
    snprintf(c->output.name, sizeof c->output.name, "output");
    snprintf(c->replay.endpoint.name, sizeof c->replay.endpoint.name, "replay");
    snprintf(c->reliable_input.endpoint.name, sizeof c->reliable_input.endpoint.name,
             "reliable_input");
    if (c->replay.enabled) {
        ep[n] = &c->replay.endpoint;
        slot[n++] = TP_MAX_INPUTS + 1;
    }
    if (c->reliable_input.enabled) {
        ep[n] = &c->reliable_input.endpoint;
        slot[n++] = TP_MAX_INPUTS + 2;
    }
    for (size_t i = 0; i < n; i++) {
        const tp_endpoint_t *e = ep[i];
        unsigned line = p->ep_line[slot[i]] ? p->ep_line[slot[i]] : p->curve_line;
        yaml_node_t at = { .start_mark.line = line ? line - 1 : 0 };
        if (!on && (e->curve_clients || e->curve_server_key))
            return tp_cfg_fail(p, &at, "%s.%s is set but CURVE is off: set curve.secret_key_file "
                               "or remove it", e->name,
                               e->curve_clients ? "curve_clients" : "curve_server_key");
        if (on && e->mode == TP_MODE_BIND && !e->curve_clients)
            return tp_cfg_fail(p, &at, "%s.curve_clients: required with curve.secret_key_file: "
                               "the file of client public keys allowed on this bound endpoint",
                               e->name);
        if (on && e->mode == TP_MODE_CONNECT && !e->curve_server_key)
            return tp_cfg_fail(p, &at, "%s.curve_server_key: required with curve.secret_key_file: "
                               "the public key of the server this endpoint connects to", e->name);
    }
    return 0;
}

/* A stream or consumer name is one NATS subject token: no dots, wildcards
 * or spaces. */
static bool s_nats_name_ok(const char *s)
{
    for (; *s; s++)
        if (*s == '.' || *s == '*' || *s == '>' || isspace((unsigned char)*s) || *s == '/' ||
            *s == '\\')
            return false;
    return true;
}

/* nats.partitions against nats.partition_count, and the names. */
static int s_check_nats(pctx_t *p)
{
    tp_config_t *c = p->c;
    if (c->nats.ownership == TP_OWNERSHIP_LEASE && c->nats.n_partitions)
        return tp_cfg_fail(p, NULL, "nats.partitions: a static list has no meaning with "
                           "nats.ownership: lease (the leases decide)");
    for (size_t i = 0; i < c->nats.n_partitions; i++)
        if (c->nats.partitions[i] >= c->nats.partition_count)
            return tp_cfg_fail(p, NULL, "nats.partitions: partition %u is not below "
                               "nats.partition_count (%u)", c->nats.partitions[i],
                               c->nats.partition_count);
    const char *names[] = { c->nats.events_stream, c->nats.alerts_stream, c->nats.consumer,
                            c->nats.lease_bucket };
    const char *keys[] = { "events_stream", "alerts_stream", "consumer", "lease_bucket" };
    for (size_t i = 0; i < 4; i++)
        if (!s_nats_name_ok(names[i]))
            return tp_cfg_fail(p, NULL, "nats.%s: \"%.64s\" is not a NATS name (no '.', '*', '>', "
                               "'/', '\\' or spaces)", keys[i], names[i]);
    /* It becomes the KV key m.<instance>: one token of KV key characters. */
    for (const char *s = c->nats.instance; s && *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' && *s != '=')
            return tp_cfg_fail(p, NULL, "nats.instance: \"%.64s\" may hold only letters, digits, "
                               "'-', '_' and '='", c->nats.instance);
    return 0;
}

int tp_config_parse(const char *yaml, size_t len, const char *name,
                    char *err, size_t errlen, tp_config_t **ret)
{
    pctx_t p = { .name = name ? name : "<config>", .err = err, .errlen = errlen };
    yaml_document_t doc;
    bool have_doc = false;
    yaml_node_t *root;
    int r;

    if (err && errlen)
        err[0] = '\0';
    if (!ret || (!yaml && len))
        return -EINVAL;
    if (len > TP_CONFIG_MAX_BYTES)
        return tp_cfg_fail(&p, NULL, "config larger than %d bytes", TP_CONFIG_MAX_BYTES);
    p.c = calloc(1, sizeof(*p.c));
    if (!p.c || !(p.c->path = strdup(p.name))) {
        r = -ENOMEM;
        goto fail;
    }
    if ((r = tp_cfg_apply_defaults(&p, tp_config_keys, tp_config_n_keys, p.c)) < 0)
        goto fail;
    if ((r = s_load(&p, yaml ? yaml : "", len, &doc)) < 0)
        goto fail;
    have_doc = true;
    p.doc = &doc;
    root = yaml_document_get_root_node(&doc);
    if (root && !tp_cfg_is_null(root)) {
        if ((r = tp_cfg_expect(&p, "top level", root, YAML_MAPPING_NODE)) < 0 ||
            (r = tp_cfg_walk(&p, tp_config_keys, tp_config_n_keys, "", "", p.c, root)) < 0)
            goto fail;
    }
    if ((r = s_check_binds(&p)) < 0 || (r = s_check_curve(&p)) < 0 || (r = s_check_nats(&p)) < 0)
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

int tp_config_load(const char *path, char *err, size_t errlen, tp_config_t **ret)
{
    FILE *f = fopen(path, "re");
    char *buf = NULL;
    size_t len;
    int r;

    if (!f) {
        r = -errno;
        goto fail_errno;
    }
    /* Read one byte past the limit so an oversized (or growing) file is caught. */
    if (!(buf = malloc(TP_CONFIG_MAX_BYTES + 1))) {
        r = -ENOMEM;
        goto fail;
    }
    errno = 0;
    len = fread(buf, 1, TP_CONFIG_MAX_BYTES + 1, f);
    if (ferror(f)) {
        r = errno ? -errno : -EIO;
        goto fail_errno;
    }
    if (len > TP_CONFIG_MAX_BYTES) {
        r = -EFBIG;
        if (err && errlen)
            snprintf(err, errlen, "%s: file larger than %d bytes", path, TP_CONFIG_MAX_BYTES);
        goto fail;
    }
    r = tp_config_parse(buf, len, path, err, errlen, ret);
    goto fail;
fail_errno:
    if (err && errlen)
        snprintf(err, errlen, "%s: %s", path, strerror(-r));
fail:
    free(buf);
    if (f)
        fclose(f);
    return r;
}


unsigned tp_field_from_name(const char *name)
{
    for (unsigned i = 0; name && i < TP_FIELD_COUNT; i++)
        if (!strcmp(name, tp_config_field_names[i]))
            return 1u << i;
    return 0;
}

const char *tp_field_name(unsigned bit)
{
    for (unsigned i = 0; i < TP_FIELD_COUNT; i++)
        if (bit == 1u << i)
            return tp_config_field_names[i];
    return NULL;
}

unsigned tp_config_required_fields(const tp_config_t *c, int channel)
{
    if (channel >= 0 && channel < TP_CHANNEL_COUNT && c->call_incomplete.has_channel[channel])
        return c->call_incomplete.by_channel[channel];
    return c->call_incomplete.required;
}

int64_t tp_config_step_sla(const tp_config_t *c, const char *step, int contract_type)
{
    for (size_t i = 0; step && i < c->step_slow.n_by_step; i++)
        if (!strcmp(c->step_slow.by_step[i].name, step))
            return c->step_slow.by_step[i].sla_ms;
    if (contract_type > 0 && contract_type < TP_CONTRACT_TYPE_COUNT &&
        c->step_slow.by_contract_type_ms[contract_type] > 0)
        return c->step_slow.by_contract_type_ms[contract_type];
    return c->step_slow.default_sla_ms;
}

unsigned tp_config_call_cutoff_day(const tp_config_t *c, int month0)
{
    unsigned day = month0 >= 0 && month0 < 12 ? c->call_late.cutoff_by_month[month0 + 1] : 0;
    return day ? day : c->call_late.cutoff_day;
}

int64_t tp_config_call_due(const tp_config_t *c, int64_t call_at_ms)
{
    if (c->call_late.style != TP_LATE_MONTHLY)
        return call_at_ms + c->call_late.submit_within_ms;
    time_t secs = (time_t)(call_at_ms / 1000);
    struct tm tm;
    if (!gmtime_r(&secs, &tm))
        return INT64_MAX;
    struct tm cut = { .tm_year = tm.tm_year, .tm_mon = tm.tm_mon + 1,
                      .tm_mday = (int)tp_config_call_cutoff_day(c, tm.tm_mon) + 1 };
    if (cut.tm_mon == 12) {                 /* December's calls: January, next year */
        cut.tm_mon = 0;
        cut.tm_year++;
    }
    return (int64_t)timegm(&cut) * 1000 - 1; /* the start of day N+1, less 1 ms */
}

int tp_listen_parse(const char *s, char *ret_host, size_t hostlen, unsigned *ret_port)
{
    char host[64];
    const char *colon;
    size_t hl;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':')
            return -EINVAL;
        hl = (size_t)(close - s - 1);
        colon = close + 1;
        if (hl == 0 || hl >= sizeof host)
            return -EINVAL;
        memcpy(host, s + 1, hl);
        host[hl] = '\0';
        struct in6_addr a6;
        if (inet_pton(AF_INET6, host, &a6) != 1)
            return -EINVAL;
    } else {
        colon = strrchr(s, ':');
        if (!colon)
            return -EINVAL;
        hl = (size_t)(colon - s);
        if (hl == 0 || hl >= sizeof host)
            return -EINVAL;
        memcpy(host, s, hl);
        host[hl] = '\0';
        struct in_addr a4;
        if (inet_pton(AF_INET, host, &a4) != 1)
            return -EINVAL;
    }
    int64_t port;
    if (tp_cfg_parse_i64(colon + 1, false, &port) < 0 || port > 65535 || hl >= hostlen)
        return -EINVAL;
    memcpy(ret_host, host, hl + 1);
    *ret_port = (unsigned)port;
    return 0;
}

const tp_feedback_source_t *tp_config_feedback_source(const tp_config_t *c, const char *source)
{
    for (size_t i = 0; source && i < c->n_feedback_sources; i++)
        if (!strcmp(c->feedback_sources[i].name, source))
            return &c->feedback_sources[i];
    return NULL;
}

void tp_config_destroy(tp_config_t **p)
{
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
    free(c->http.listen);
    free(c->http.ingest.bearer_token_file);
    free(c->http.dashboard.bearer_token_file);
    free(c->http.dashboard.root);
    free(c->path);
    free(c);
    *p = NULL;
}

int64_t tp_config_call_horizon(const tp_config_t *c)
{
    /* A monthly cut-off falls at most 31 + 28 days after a call. */
    int64_t late = c->call_late.style == TP_LATE_MONTHLY ? (int64_t)59 * 86400000
                                                         : c->call_late.submit_within_ms;
    int64_t unsub = c->call_unsubmitted.submit_within_ms;
    return late > unsub ? late : unsub;
}
