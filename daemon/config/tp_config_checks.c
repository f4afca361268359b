/* tp_config_checks — what no single key can check: rules that span keys,
 * run once the whole file has been walked. An endpoint bound twice, CURVE
 * settings that do not fit the handshake each side needs, nats.partitions
 * against nats.partition_count and NATS names. Errors name the line of the
 * key at fault where there is one, like every other config error. */
#include <ctype.h>
#include <stdbool.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "tp_config_internal.h"

/* The endpoints this config opens, each with its slot in p->ep_line; also
 * names every endpoint by its role (the ZAP domain and what logs call it),
 * enabled or not, since a reload may enable it. Returns how many. */
static size_t s_endpoints(tp_config_t *c, tp_endpoint_t *ret_ep[TP_CONFIG_SLOT_COUNT],
                          size_t ret_slot[TP_CONFIG_SLOT_COUNT]) {
    size_t n = 0;
    for (size_t i = 0; i < c->n_inputs; i++, n++) {
        ret_ep[n] = &c->inputs[i];
        ret_slot[n] = i;
        snprintf(c->inputs[i].name, sizeof c->inputs[i].name, "inputs[%zu]", i);
    }
    snprintf(c->output.name, sizeof c->output.name, "output");
    snprintf(c->replay.endpoint.name, sizeof c->replay.endpoint.name, "replay");
    snprintf(c->reliable_input.endpoint.name, sizeof c->reliable_input.endpoint.name,
             "reliable_input");
    ret_ep[n] = &c->output;
    ret_slot[n++] = TP_CONFIG_SLOT_OUTPUT;
    if (c->replay.enabled) {
        ret_ep[n] = &c->replay.endpoint;
        ret_slot[n++] = TP_CONFIG_SLOT_REPLAY;
    }
    if (c->reliable_input.enabled) {
        ret_ep[n] = &c->reliable_input.endpoint;
        ret_slot[n++] = TP_CONFIG_SLOT_RELIABLE;
    }
    return n;
}

/* A node standing for 1-based line `line` (0: no line of the file). */
static yaml_node_t s_at(unsigned line) {
    return (yaml_node_t){ .start_mark.line = line ? line - 1 : 0 };
}

/* ZeroMQ refuses a second bind of one address; say so at load time
 * instead, at the later of the two lines. */
static int s_check_binds(tp_config_ctx_t *p, tp_endpoint_t *const *ep, const size_t *slot,
                         size_t n) {
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++) {
            if (ep[i]->mode != TP_MODE_BIND || ep[j]->mode != TP_MODE_BIND ||
                strcmp(ep[i]->endpoint, ep[j]->endpoint))
                continue;
            bool                 later_j = p->ep_line[slot[j]] >= p->ep_line[slot[i]];
            const tp_endpoint_t *second = later_j ? ep[j] : ep[i], *first = later_j ? ep[i] : ep[j];
            yaml_node_t          at = s_at(p->ep_line[later_j ? slot[j] : slot[i]]);
            return tp_config_fail(p, &at, "%s.endpoint: \"%.64s\" is already bound by %s",
                                  second->name, first->endpoint, first->name);
        }
    return 0;
}

/* With CURVE on, each endpoint has what its side of the handshake needs.
 * A list of keys with CURVE off is refused too: an operator who wrote one
 * believes the endpoint is protected. */
static int s_check_curve(tp_config_ctx_t *p, tp_endpoint_t *const *ep, const size_t *slot,
                         size_t n) {
    bool on = p->c->curve.secret_key_file != NULL;
    for (size_t i = 0; i < n; i++) {
        const tp_endpoint_t *e = ep[i];
        yaml_node_t          at = s_at(p->ep_line[slot[i]] ? p->ep_line[slot[i]] : p->curve_line);
        if (!on && (e->curve_clients || e->curve_server_key))
            return tp_config_fail(p, &at,
                                  "%s.%s is set but CURVE is off: set curve.secret_key_file "
                                  "or remove it",
                                  e->name, e->curve_clients ? "curve_clients" : "curve_server_key");
        if (on && e->mode == TP_MODE_BIND && !e->curve_clients)
            return tp_config_fail(p, &at,
                                  "%s.curve_clients: required with curve.secret_key_file: "
                                  "the file of client public keys allowed on this bound endpoint",
                                  e->name);
        if (on && e->mode == TP_MODE_CONNECT && !e->curve_server_key)
            return tp_config_fail(p, &at,
                                  "%s.curve_server_key: required with curve.secret_key_file: "
                                  "the public key of the server this endpoint connects to",
                                  e->name);
    }
    return 0;
}

/* A stream or consumer name is one NATS subject token: no dots, wildcards
 * or spaces. */
static bool s_nats_name_ok(const char *s) {
    for (; *s; s++)
        if (*s == '.' || *s == '*' || *s == '>' || isspace((unsigned char)*s) || *s == '/' ||
            *s == '\\')
            return false;
    return true;
}

/* nats.partitions against nats.partition_count, and the names. */
static int s_check_nats(tp_config_ctx_t *p) {
    tp_config_t *c = p->c;
    if (c->nats.ownership == TP_OWNERSHIP_LEASE && c->nats.n_partitions)
        return tp_config_fail(p, NULL,
                              "nats.partitions: a static list has no meaning with "
                              "nats.ownership: lease (the leases decide)");
    for (size_t i = 0; i < c->nats.n_partitions; i++)
        if (c->nats.partitions[i] >= c->nats.partition_count)
            return tp_config_fail(p, NULL,
                                  "nats.partitions: partition %u is not below "
                                  "nats.partition_count (%u)",
                                  c->nats.partitions[i], c->nats.partition_count);
    const char *names[] = { c->nats.events_stream, c->nats.alerts_stream, c->nats.consumer,
                            c->nats.lease_bucket, c->nats.snapshot_stream };
    const char *keys[] = { "events_stream", "alerts_stream", "consumer", "lease_bucket",
                           "snapshot_stream" };
    for (size_t i = 0; i < 5; i++)
        if (!s_nats_name_ok(names[i]))
            return tp_config_fail(p, NULL,
                                  "nats.%s: \"%.64s\" is not a NATS name (no '.', '*', '>', "
                                  "'/', '\\' or spaces)",
                                  keys[i], names[i]);
    /* It becomes the KV key m.<instance>: one token of KV key characters. */
    for (const char *s = c->nats.instance; s && *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' && *s != '=')
            return tp_config_fail(p, NULL,
                                  "nats.instance: \"%.64s\" may hold only letters, digits, "
                                  "'-', '_' and '='",
                                  c->nats.instance);
    return 0;
}

int tp_config_check(tp_config_ctx_t *p) {
    tp_endpoint_t *ep[TP_CONFIG_SLOT_COUNT];
    size_t         slot[TP_CONFIG_SLOT_COUNT];
    size_t         n = s_endpoints(p->c, ep, slot);
    int            r = s_check_binds(p, ep, slot, n);
    if (r == 0)
        r = s_check_curve(p, ep, slot, n);
    if (r == 0)
        r = s_check_nats(p);
    return r;
}
