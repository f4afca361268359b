/* tp_config_files — the files a config names, checked the way the daemon
 * reads them: bearer token files (http.ingest, http.dashboard), the CURVE
 * secret key and the allow-list (curve_clients) of every bound endpoint. One function for --check-config, start-up and reload,
 * so what --check-config passes the daemon starts with, and what it
 * refuses the daemon refuses too. The readers (tp_cli.h, tp_curve_key.h)
 * are the ones the HTTP endpoint and the bus use; nothing read is kept.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tp_cli.h"
#include "tp_config.h"
#include "tp_curve_key.h"

/* With CURVE on, each bound endpoint's allow-list, as the ZAP handler
 * reads it at start (a bad line names the file and line). */
static int s_check_allow_lists(const tp_config_t *c, char *why, size_t whylen) {
    const tp_endpoint_t *ep[TP_MAX_INPUTS + 3];
    size_t               n = 0;
    for (size_t i = 0; i < c->n_inputs; i++)
        ep[n++] = &c->inputs[i];
    ep[n++] = &c->output;
    if (c->replay.enabled)
        ep[n++] = &c->replay.endpoint;
    if (c->reliable_input.enabled)
        ep[n++] = &c->reliable_input.endpoint;
    for (size_t i = 0; i < n; i++) {
        if (ep[i]->mode != TP_MODE_BIND || !ep[i]->curve_clients)
            continue;
        unsigned line = 0;
        int      r = tp_curve_allow_list_read(ep[i]->curve_clients, NULL, NULL, &line);
        if (r == -EBADMSG)
            snprintf(why, whylen, "%s:%u: not a Z85 public key (%s.curve_clients)",
                     ep[i]->curve_clients, line, ep[i]->name);
        else if (r < 0)
            snprintf(why, whylen, "%s.curve_clients '%s': %s", ep[i]->name, ep[i]->curve_clients,
                     strerror(-r));
        if (r < 0)
            return r;
    }
    return 0;
}

int tp_config_check_files(const tp_config_t *c, char *err, size_t errlen) {
    const struct {
        const char *key, *path;
    } tokens[] = {
        { "http.ingest.bearer_token_file",
          c->http.enabled && c->http.ingest.enabled ? c->http.ingest.bearer_token_file : NULL },
        { "http.dashboard.bearer_token_file", c->http.enabled && c->http.dashboard.enabled
                                                  ? c->http.dashboard.bearer_token_file
                                                  : NULL },
    };
    char why[512] = "";
    int  r = 0;
    for (size_t i = 0; r == 0 && i < sizeof tokens / sizeof tokens[0]; i++) {
        char *token = NULL;
        r = tp_token_file_read(tokens[i].key, tokens[i].path, &token, why, sizeof why);
        if (token) {
            explicit_bzero(token, strlen(token));
            free(token);
        }
    }
    if (r == 0 && c->curve.secret_key_file) {
        char pub[TP_Z85_LEN + 1], sec[TP_Z85_LEN + 1];
        r = tp_curve_key_load("curve.secret_key_file", c->curve.secret_key_file, pub, sec, why,
                              sizeof why);
        explicit_bzero(sec, sizeof sec);
        if (r == 0)
            r = s_check_allow_lists(c, why, sizeof why);
    }
    if (r < 0 && err && errlen)
        snprintf(err, errlen, "%s: %s", c->path, why);
    return r;
}
