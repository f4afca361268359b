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
#include "tp_daemon.h"
#include "tp_log.h"
#include "tp_replay.h"

static void s_usage(FILE *out) {
    fprintf(out,
            "Usage: touchpointd [OPTIONS]\n"
            "\n"
            "Watches CRM events (ZeroMQ + protobuf) and publishes accountability and\n"
            "friction alerts (FIRING -> RESOLVED) on a ZeroMQ PUB socket.\n"
            "\n"
            "  -c, --config FILE    YAML config (default: the embedded config, loopback\n"
            "                       tcp://127.0.0.1:7601 in, tcp://127.0.0.1:7602 out)\n"
            "      --check-config   validate the config, print file:line of the first\n"
            "                       error and exit (0 valid, 1 invalid)\n"
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
            "Signals: SIGTERM/SIGINT stop cleanly; SIGUSR1 logs the counters.\n");
}

static void s_stop_cb(evutil_socket_t sig, short what, void *arg) {
    (void)what;
    log_info("Received %s, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
    event_base_loopexit(arg, NULL);
}

static void s_stats_cb(evutil_socket_t sig, short what, void *arg) {
    (void)sig;
    (void)what;
    tp_daemon_log_stats(arg);
}

static int s_load_config(const char *path, tp_config_t **ret) {
    char err[512];
    int r = path ? tp_config_load(path, err, sizeof err, ret)
                 : tp_config_parse(tp_config_default_yaml(), strlen(tp_config_default_yaml()),
                                   "<embedded>", err, sizeof err, ret);
    if (r < 0)
        fprintf(stderr, "touchpointd: %s\n", err);
    return r;
}

/* --replay: backfill and exit; 0 if every line was used, 1 otherwise. */
static int s_replay(const tp_config_t *cfg, const char *path) {
    tp_replay_result_t res;
    if (tp_replay_file(cfg, path, stdout, &res) < 0)
        return EXIT_FAILURE;
    const tp_stats_t *s = &res.stats;
    char until[32];
    tp_format_time(res.event_time_ms, until, sizeof until);
    log_info("Replayed %s: %llu events (%llu bad lines, %llu refused, %llu duplicates); "
             "%llu alerts fired, %llu resolved, %zu still open; event time reached %s, "
             "%zu deadlines beyond it",
             path, (unsigned long long)res.lines, (unsigned long long)res.bad_lines,
             (unsigned long long)tp_stats_bad_total(s), (unsigned long long)s->duplicates,
             (unsigned long long)s->alerts_firing, (unsigned long long)s->alerts_resolved,
             res.open_alerts, until, res.pending_deadlines);
    return res.bad_lines || tp_stats_bad_total(s) ? EXIT_FAILURE : EXIT_SUCCESS;
}

int main(int argc, char **argv) {
    enum { OPT_CHECK = 256, OPT_VERSION, OPT_PRINT_CONFIG, OPT_MOVE_ASIDE };
    bool move_aside = false;
    const char *replay_path = NULL;
    static const struct option opts[] = {
        { "config",       required_argument, NULL, 'c' },
        { "check-config", no_argument,       NULL, OPT_CHECK },
        { "print-config", no_argument,       NULL, OPT_PRINT_CONFIG },
        { "print-alerts", no_argument,       NULL, 'p' },
        { "replay",       required_argument, NULL, 'r' },
        { "move-aside-corrupt", no_argument, NULL, OPT_MOVE_ASIDE },
        { "verbose",      no_argument,       NULL, 'v' },
        { "version",      no_argument,       NULL, OPT_VERSION },
        { "help",         no_argument,       NULL, 'h' },
        { 0 },
    };
    const char *config_path = NULL;
    bool check_only = false, print_alerts = false;
    int c;
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
    if (s_load_config(config_path, &cfg) < 0)
        return EXIT_FAILURE;
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

    int ret = EXIT_FAILURE;
    struct event_base *base = event_base_new();
    struct event *ev_int = NULL, *ev_term = NULL, *ev_usr1 = NULL;
    tp_daemon_t *d = NULL;
    if (!base) {
        log_error("Failed to create the event loop");
        goto out;
    }
    tp_daemon_opts_t dopts = { .print_alerts = print_alerts ? stdout : NULL,
                               .move_aside_corrupt = move_aside };
    if (tp_daemon_new(base, cfg, &dopts, &d) < 0)
        goto out;
    ev_int = evsignal_new(base, SIGINT, s_stop_cb, base);
    ev_term = evsignal_new(base, SIGTERM, s_stop_cb, base);
    ev_usr1 = evsignal_new(base, SIGUSR1, s_stats_cb, d);
    if (!ev_int || !ev_term || !ev_usr1 || event_add(ev_int, NULL) < 0 ||
        event_add(ev_term, NULL) < 0 || event_add(ev_usr1, NULL) < 0) {
        log_error("Failed to install signal handlers");
        goto out;
    }

    char rules[1024];
    tp_engine_describe_rules(tp_daemon_engine(d), rules, sizeof rules);
    for (size_t i = 0; i < cfg->n_inputs; i++)
        log_info("Input %s (%s)", cfg->inputs[i].endpoint,
                 cfg->inputs[i].mode == TP_MODE_BIND ? "bind" : "connect");
    log_info("Ready: touchpointd %s, config %s, clock %s, alerts on %s, rules: %s", TP_VERSION,
             cfg->path, cfg->clock == TP_CLOCK_WALL ? "wall" : "event", cfg->output.endpoint,
             rules);

    if (event_base_dispatch(base) < 0)
        log_error("Event loop failed");
    else
        ret = EXIT_SUCCESS;
    tp_daemon_log_stats(d);
out:
    if (ev_usr1)
        event_free(ev_usr1);
    if (ev_term)
        event_free(ev_term);
    if (ev_int)
        event_free(ev_int);
    tp_daemon_destroy(&d);
    if (base)
        event_base_free(base);
    tp_config_destroy(&cfg);
    return ret;
}
