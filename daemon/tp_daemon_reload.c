/* tp_daemon_reload — SIGHUP: switching the running daemon to a new config.
 *
 * The file was parsed whole by main(); here it is checked against the
 * running daemon (restart-only keys), then applied in an order that can
 * be undone: CURVE allow-lists, endpoints (reopened where their settings
 * changed, all rolled back if one fails to bind), the HTTP endpoint, and
 * last the engine (rules and thresholds), so a reload is whole or nothing.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tp_daemon_internal.h"

/* Equal strings, NULL equal only to NULL (unset optional keys). */
static bool s_same_str(const char *a, const char *b) {
    return a && b ? strcmp(a, b) == 0 : a == b;
}

static bool s_same_ep(const tp_endpoint_t *a, const tp_endpoint_t *b) {
    if (!a || !b)
        return a == b;
    /* A changed allow-list file needs no new socket: the ZAP handler
     * reloads lists; a new server key does (it is a socket option). */
    return strcmp(a->endpoint, b->endpoint) == 0 && a->mode == b->mode && a->hwm == b->hwm &&
           s_same_str(a->curve_server_key, b->curve_server_key);
}

/* True if a reload from `old` to `next` must reopen the socket of `role`. */
static bool s_role_changed(const tp_daemon_t *d, const tp_config_t *old, const tp_config_t *next,
                           int role) {
    if (!s_same_ep(tp_daemon_role_ep(d, old, role), tp_daemon_role_ep(d, next, role)))
        return true;
    /* The size limit is a socket option of every receiving socket. */
    return role != ROLE_OUTPUT && role != ROLE_REPLAY &&
           old->max_message_bytes != next->max_message_bytes;
}

/* The HTTP endpoint on reload: switched on or off, moved to another
 * address (metrics and KPIs carry on), or just given the new config. */
static int s_reload_http(tp_daemon_t *d, const tp_config_t *next) {
    if (!next->http.enabled) {
        tp_daemon_close_http(d);
        return 0;
    }
    if (!d->http)
        return tp_daemon_open_http(d, next);
    char why[512];
    int  r = tp_http_reconfigure(d->http, next, why, sizeof why);
    if (r < 0)
        return log_error_errno(r, "Failed to reconfigure the HTTP endpoint: %s: %m", why);
    return 0;
}

/* Restart-only settings, and settings the new config is missing to run
 * (reload validates against the running daemon, not just the file). */
static int s_check_reload(const tp_daemon_t *d, const tp_config_t *next, char *why, size_t len) {
    const tp_config_t *old = d->cfg;
    const char        *fixed = tp_config_restart_key(old, next);
    if (fixed) {
        snprintf(why, len, "%s cannot change on reload; restart touchpointd to change it", fixed);
        return -EINVAL;
    }
    /* The partition engines borrow the config on their own thread, and
     * the old config is freed once a reload succeeds. */
    if (old->nats.enabled && old->nats.ownership == TP_OWNERSHIP_LEASE) {
        snprintf(why, len,
                 "nats.ownership: lease takes no reload (the partition engines run on "
                 "the config they started with); restart the instance, its partitions move to "
                 "the others meanwhile");
        return -EINVAL;
    }
    if (next->reliable_input.enabled && !d->journal) {
        snprintf(why, len, "reliable_input needs journal.enabled");
        return -EINVAL;
    }
    return tp_engine_can_reconfigure(d->engine, next, why, len);
}

int tp_daemon_reload(tp_daemon_t *d, const tp_config_t *next) {
    const tp_config_t *old = d->cfg;
    char               why[256];
    int                r = s_check_reload(d, next, why, sizeof why);
    if (r < 0) {
        log_error("Reload of %s refused: %s; still running on the previous config", next->path,
                  why);
        return r;
    }
    /* Allow-lists first: a bad key file refuses the reload, and the lists
     * already swapped go back to what the old config names. */
    if ((r = tp_daemon_load_allow_lists(d, next)) < 0) {
        tp_daemon_load_allow_lists(d, old);
        log_error("Reload of %s refused; still running on the previous config", next->path);
        return r;
    }
    /* Sockets next (they can fail to bind), and back to the old ones if
     * any of the new ones fails: a reload is applied whole or not at all. */
    bool changed[ROLE_COUNT];
    int  role;
    for (role = 0; role < ROLE_COUNT; role++)
        if ((changed[role] = s_role_changed(d, old, next, role)))
            tp_daemon_close_role(d, role);
    for (role = 0; role < ROLE_COUNT; role++)
        if (changed[role] && (r = tp_daemon_open_role(d, next, role)) < 0)
            break;
    bool http_was_on = d->http != NULL;
    if (r == 0 && (r = s_reload_http(d, next)) == 0) {
        r = tp_engine_reconfigure(d->engine, next, why, sizeof why);
        if (r < 0) {
            log_error_errno(r, "Reload of %s failed: %s", next->path, why);
            /* Back to the old HTTP settings (what binds now binds again). */
            if (!http_was_on)
                tp_daemon_close_http(d);
            else if (d->http)
                tp_http_reconfigure(d->http, old, why, sizeof why);
            else
                tp_daemon_open_http(d, old);
        }
    }
    if (r < 0) {
        for (role = 0; role < ROLE_COUNT; role++)
            if (changed[role])
                tp_daemon_close_role(d, role);
        for (role = 0; role < ROLE_COUNT; role++)
            if (changed[role])
                tp_daemon_open_role(d, old, role); /* logs if even the old one fails now */
        tp_daemon_load_allow_lists(d, old);
        log_error("Reload of %s refused; still running on the previous config", next->path);
        return r;
    }
    d->cfg = next;
    tp_kpi_set_config(d->kpi, next);
    tp_daemon_journal_apply(d, next);
    d->journal_rl.interval_ms = next->log_interval_ms;
    d->journal_rl.burst = next->log_burst;
    size_t n = 0;
    for (role = 0; role < ROLE_COUNT; role++)
        n += changed[role];
    log_info("Reloaded configuration from %s: %zu endpoints reopened; state kept (%zu calls, "
             "%zu contracts, %zu open alerts, %zu deadlines)",
             next->path, n, tp_engine_calls(d->engine), tp_engine_cases(d->engine),
             tp_engine_open_alerts(d->engine), tp_engine_deadlines(d->engine));
    tp_daemon_rearm(d);
    return 0;
}
