/* touchpointd — entry point: command line, config, event loop, signals.
 *
 * main() owns the event_base, the config and the signal events; the daemon
 * object (tp_daemon.c) owns everything built from them. Teardown runs in
 * reverse order of creation.
 */
#include <errno.h>
#include <event2/event.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tp_clock.h"
#include "tp_config.h"
#include "tp_nats.h"
#include "tp_daemon.h"
#include "tp_log.h"
#include "tp_notify.h"
#include "tp_backfill.h"
#include "tp_lua_rules.h"

static void s_usage(FILE *out) {
    fprintf(out, "Usage: touchpointd [OPTIONS]\n"
                 "\n"
                 "Watches CRM events (ZeroMQ + protobuf) and publishes accountability and\n"
                 "friction alerts (FIRING -> RESOLVED) on a ZeroMQ PUB socket.\n"
                 "\n"
                 "  -c, --config FILE    YAML config (default: the embedded config, loopback\n"
                 "                       tcp://127.0.0.1:7601 in, tcp://127.0.0.1:7602 out)\n"
                 "      --check-config   validate the config and the files it names (token\n"
                 "                       and key files, as start-up reads them), print the\n"
                 "                       first error (file:line) and exit (0 valid, 1 invalid)\n"
                 "      --print-config   print the embedded default config and exit\n"
                 "  -p, --print-alerts   also print each alert as a JSON line on stdout\n"
                 "  -r, --replay FILE    backfill: run the rules over FILE (JSON lines, one\n"
                 "                       Envelope each, as tp-pub reads; - for stdin) in event\n"
                 "                       time, print the alerts as JSON lines, and exit\n"
                 "      --move-aside-corrupt\n"
                 "                       if the alert journal is corrupt, rename it and start\n"
                 "                       a new one (sequence numbers jump forward, never reused)\n"
                 "  -v, --verbose        log debug messages\n"
                 "      --version        print the version and exit\n"
                 "  -h, --help           show this help and exit\n"
                 "\n"
                 "Signals: SIGTERM/SIGINT stop cleanly; SIGHUP reloads the config (validated\n"
                 "first: an invalid file is logged with file:line and the daemon keeps its\n"
                 "old config); SIGUSR1 logs the counters.\n"
                 "\n"
                 "Under systemd (Type=notify) it reports READY=1 once its sockets are bound\n"
                 "and its state rebuilt, a STATUS= line every 5 s, and WATCHDOG=1 pings\n"
                 "when WatchdogSec= is set.\n");
}

/* What the signal handlers need. */
typedef struct {
    struct event_base *base;
    const char        *config_path; /* NULL: the embedded config */
    tp_config_t       *cfg;         /* the running config (the daemon borrows it) */
    tp_daemon_t       *daemon;
    tp_notify_t       *notify;
} s_main_t;

static void s_stop_cb(evutil_socket_t sig, short what, void *arg) {
    (void)what;
    s_main_t *m = arg;
    log_info("Received %s, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
    tp_notify_stopping(m->notify);
    event_base_loopexit(m->base, NULL);
}

static void s_stats_cb(evutil_socket_t sig, short what, void *arg) {
    (void)sig;
    (void)what;
    tp_daemon_log_stats(((s_main_t *)arg)->daemon);
}

/* The config file, or the embedded one, parsed whole; with `files`, the
 * files it names checked as the daemon reads them too: what --check-config,
 * start-up and SIGHUP all run, so they can never disagree (--replay opens
 * no endpoint and reads none of them). */
static int s_load_config(const char *path, bool files, char *err, size_t errlen,
                         tp_config_t **ret) {
    tp_config_t *c = NULL;
    int          r = path ? tp_config_load(path, err, errlen, &c)
                          : tp_config_parse(tp_config_default_yaml(), strlen(tp_config_default_yaml()),
                                            "<embedded>", err, errlen, &c);
    if (r == 0 && files && (r = tp_config_check_files(c, err, errlen)) < 0)
        tp_config_destroy(&c);
    if (r == 0)
        *ret = c;
    return r;
}

/* SIGHUP: read and validate the whole file first; only a config that
 * parses and that the running daemon accepts replaces the old one. */
static void s_reload_cb(evutil_socket_t sig, short what, void *arg) {
    (void)sig;
    (void)what;
    s_main_t    *m = arg;
    char         err[512];
    tp_config_t *next = NULL;
    tp_notify_reloading(m->notify);
    log_info("Received SIGHUP, reloading %s", m->config_path ? m->config_path : "<embedded>");
    if (s_load_config(m->config_path, true, err, sizeof err, &next) < 0)
        log_error("Reload of %s refused: %s; still running on the previous config",
                  m->config_path ? m->config_path : "<embedded>", err);
    else if (tp_daemon_reload(m->daemon, next) < 0)
        tp_config_destroy(&next);
    else {
        tp_config_destroy(&m->cfg);
        m->cfg = next;
    }
    tp_notify_ready(m->notify);
}

/* --replay: backfill and exit; 0 if every line was used, 1 otherwise. */
static int s_replay(const tp_config_t *cfg, const char *path) {
    tp_backfill_result_t res;
    if (tp_backfill_file(cfg, path, stdout, &res) < 0)
        return EXIT_FAILURE;
    const tp_stats_t *s = &res.stats;
    char              until[32];
    tp_format_time(res.event_time_ms, until, sizeof until);
    log_info("Replayed %s: %llu events (%llu bad lines, %llu refused, %llu duplicates); "
             "%llu alerts fired, %llu resolved, %zu still open; event time reached %s, "
             "%zu deadlines beyond it",
             path, (unsigned long long)res.lines, (unsigned long long)res.bad_lines,
             (unsigned long long)tp_stats_refused_total(s), (unsigned long long)s->duplicates,
             (unsigned long long)s->alerts_firing, (unsigned long long)s->alerts_resolved,
             res.open_alerts, until, res.pending_deadlines);
    return res.bad_lines || tp_stats_refused_total(s) ? EXIT_FAILURE : EXIT_SUCCESS;
}

int main(int argc, char **argv) {
    enum { OPT_CHECK = 256, OPT_VERSION, OPT_PRINT_CONFIG, OPT_MOVE_ASIDE };
    bool                       move_aside = false;
    const char                *replay_path = NULL;
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "check-config", no_argument, NULL, OPT_CHECK },
        { "print-config", no_argument, NULL, OPT_PRINT_CONFIG },
        { "print-alerts", no_argument, NULL, 'p' },
        { "replay", required_argument, NULL, 'r' },
        { "move-aside-corrupt", no_argument, NULL, OPT_MOVE_ASIDE },
        { "verbose", no_argument, NULL, 'v' },
        { "version", no_argument, NULL, OPT_VERSION },
        { "help", no_argument, NULL, 'h' },
        { 0 },
    };
    const char *config_path = NULL;
    bool        check_only = false, print_alerts = false;
    int         c;
    while ((c = getopt_long(argc, argv, "c:pr:vh", opts, NULL)) != -1) {
        switch (c) {
        case 'c': config_path = optarg; break;
        case 'p': print_alerts = true; break;
        case 'r': replay_path = optarg; break;
        case 'v': tp_log_set_max_level(TP_LOG_DEBUG); break;
        case OPT_CHECK: check_only = true; break;
        case OPT_MOVE_ASIDE: move_aside = true; break;
        case OPT_PRINT_CONFIG: fputs(tp_config_default_yaml(), stdout); return EXIT_SUCCESS;
        case OPT_VERSION: printf("touchpointd %s\n", TP_VERSION); return EXIT_SUCCESS;
        case 'h': s_usage(stdout); return EXIT_SUCCESS;
        default: s_usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "touchpointd: unexpected argument '%s'\n", argv[optind]);
        s_usage(stderr);
        return 2;
    }

    tp_config_t *cfg = NULL;
    char         err[512];
    if (s_load_config(config_path, !replay_path || check_only, err, sizeof err, &cfg) < 0) {
        fprintf(stderr, "touchpointd: %s%s\n", check_only ? "" : "Refusing to start: ", err);
        return EXIT_FAILURE;
    }
    /* Every Lua rule the config names is loaded and checked as the
     * daemon would load it (a syntax error prints file:line). */
    if (check_only && tp_lua_rules_check(cfg, err, sizeof err) < 0) {
        fprintf(stderr, "touchpointd: %s\n", err);
        tp_config_destroy(&cfg);
        return EXIT_FAILURE;
    }
    if (check_only) {
        printf("%s: OK\n", config_path ? config_path : "<embedded>");
        tp_config_destroy(&cfg);
        return EXIT_SUCCESS;
    }

    if (replay_path) {
        int ret = s_replay(cfg, replay_path);
        tp_config_destroy(&cfg);
        return ret;
    }

    /* A subscriber or peer going away must not kill us. */
    signal(SIGPIPE, SIG_IGN);

    int      ret = EXIT_FAILURE;
    s_main_t m = { .config_path = config_path, .cfg = cfg };
    static const struct {
        int               sig;
        event_callback_fn fn;
    } sigs[] = {
        { SIGINT, s_stop_cb },
        { SIGTERM, s_stop_cb },
        { SIGUSR1, s_stats_cb },
        { SIGHUP, s_reload_cb },
    };
    struct event *sig_ev[4] = { 0 };
    /* JetStream's delivery thread wakes the loop: libevent locking must be
     * on before the base exists. */
    if (cfg->nats.enabled)
        tp_nats_global_init();
    m.base = event_base_new();
    if (!m.base) {
        log_error("Failed to create the event loop");
        goto out;
    }
    /* Handlers before the (possibly long) rebuild: a SIGHUP or SIGTERM
     * sent meanwhile is handled once the loop runs, instead of killing us
     * by its default action. */
    for (size_t i = 0; i < 4; i++) {
        sig_ev[i] = evsignal_new(m.base, sigs[i].sig, sigs[i].fn, &m);
        if (!sig_ev[i] || event_add(sig_ev[i], NULL) < 0) {
            log_error("Failed to install signal handlers");
            goto out;
        }
    }
    tp_daemon_opts_t dopts = { .print_alerts = print_alerts ? stdout : NULL,
                               .move_aside_corrupt = move_aside };
    if (tp_daemon_new(m.base, cfg, &dopts, &m.daemon) < 0)
        goto out;
    if (tp_notify_new(m.base, tp_daemon_status, m.daemon, &m.notify) < 0) {
        log_error("Failed to set up service notification");
        goto out;
    }
    char rules[1024];
    tp_engine_describe_rules(tp_daemon_engine(m.daemon), rules, sizeof rules);
    for (size_t i = 0; i < cfg->n_inputs; i++)
        log_info("Input %s (%s)", cfg->inputs[i].endpoint,
                 cfg->inputs[i].mode == TP_MODE_BIND ? "bind" : "connect");
    log_info("Ready: touchpointd %s, config %s, clock %s, alerts on %s, rules: %s", TP_VERSION,
             cfg->path, cfg->clock == TP_CLOCK_WALL ? "wall" : "event", cfg->output.endpoint,
             rules);

    tp_notify_ready(m.notify);

    if (event_base_dispatch(m.base) < 0)
        log_error("Event loop failed");
    else
        ret = EXIT_SUCCESS;
    tp_daemon_log_stats(m.daemon);
out:
    for (size_t i = 4; i-- > 0;)
        if (sig_ev[i])
            event_free(sig_ev[i]);
    tp_notify_destroy(&m.notify);
    tp_daemon_destroy(&m.daemon);
    if (m.base)
        event_base_free(m.base);
    tp_config_destroy(&m.cfg);
    return ret;
}
