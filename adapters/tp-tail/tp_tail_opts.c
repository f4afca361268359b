/* tp_tail_opts — see tp_tail_opts.h. */
#include "tp_tail_opts.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>

#include "tp_cli.h"

static const char s_usage[] =
    "Usage: tp-tail [OPTIONS]\n"
    "\n"
    "Follow touchpointd's alerts: subscribe to the alert endpoint and print one\n"
    "JSON line per alert on stdout (the touchpoint.v1.Alert in proto3 JSON plus a\n"
    "\"topic\" member), append them to a file, POST them to a webhook (one by one\n"
    "or grouped into digests), or keep Prometheus Alertmanager up to date with\n"
    "the open ones. Malformed messages are reported on stderr and skipped.\n"
    "\n"
    "  -e, --endpoint EP     ZeroMQ endpoint (default " TP_TAIL_DEFAULT_ENDPOINT ",\n"
    "                        touchpointd's default output)\n"
    "      --bind            bind EP instead of connecting to it\n"
    "  -t, --topic PREFIX    only alerts whose topic starts with PREFIX, e.g.\n"
    "                        \"friction.\" (repeatable; default: all)\n"
    "  -c, --count N         exit after N alerts were delivered (default 0: never)\n"
    "      --timeout-ms N    exit after N ms without any message and with nothing\n"
    "                        waiting for delivery (default 0: never; with\n"
    "                        --durable, counted after the catch-up replay)\n"
    "      --durable FILE    lose no alert: keep the last delivered sequence in\n"
    "                        FILE, replay what was missed (see below)\n"
    "      --replay-endpoint EP\n"
    "                        touchpointd's replay endpoint, used with --durable\n"
    "                        (default " TP_TAIL_DEFAULT_REPLAY ")\n"
    "      --replay-timeout-ms N\n"
    "                        give up on a replay after N ms without an answer and\n"
    "                        print live alerts only, retrying every 5 s (default 5000)\n"
    "      --curve-server-key KEY\n"
    "                        the daemon's CURVE public key (Z85, as tp-keygen\n"
    "                        prints it); with --curve-secret-key-file the alert\n"
    "                        and replay sockets are CURVE clients. Not with --bind\n"
    "      --curve-secret-key-file FILE\n"
    "                        this client's secret key (tp-keygen --write FILE);\n"
    "                        the daemon must list its public key in curve_clients\n"
    "      --output FILE     append the JSON lines to FILE instead of stdout;\n"
    "                        SIGHUP reopens FILE (logrotate: move it, then HUP)\n"
    "      --fsync           fsync FILE after every line\n"
    "      --webhook URL     POST each alert (body: its JSON line) to URL,\n"
    "                        http[s]://host[:port][/path]; https:// is verified\n"
    "                        (no TLS-terminating proxy needed)\n"
    "      --webhook-header 'NAME: VALUE'\n"
    "                        add this header to every POST (repeatable), e.g.\n"
    "                        'Authorization: Bearer TOKEN'\n"
    "      --webhook-timeout-ms N\n"
    "                        give up on one POST after N ms (default 5000; also\n"
    "                        for --alertmanager)\n"
    "      --webhook-retries N\n"
    "                        retries of one message before tp-tail stops with\n"
    "                        status 1 (default 0: retry forever)\n"
    "      --alertmanager URL\n"
    "                        post alerts to Prometheus Alertmanager at URL\n"
    "                        (e.g. http://127.0.0.1:9093; POSTs go to\n"
    "                        URL/api/v2/alerts). Repeatable: every URL of an HA\n"
    "                        pair gets every alert. Use with --durable (below)\n"
    "      --alertmanager-resend DURATION\n"
    "                        re-post every open alert this often (default 1m;\n"
    "                        keep it below Alertmanager's resolve_timeout, 5m)\n"
    "      --alertmanager-batch N\n"
    "                        at most N alerts per POST (default 500)\n"
    "      --ca-file FILE    verify https:// receivers with the CA certificates\n"
    "                        in FILE (PEM) instead of the system's\n"
    "      --bearer-token-file FILE\n"
    "                        send 'Authorization: Bearer TOKEN', TOKEN read from\n"
    "                        FILE (first line that is not blank or '#'; FILE\n"
    "                        must not be readable or writable by others)\n"
    "      --basic-auth-file FILE\n"
    "                        HTTP basic auth with USER:PASSWORD read from FILE\n"
    "                        (same rules as --bearer-token-file)\n"
    "      --digest rep|territory|contract|hcp\n"
    "                        group alerts by that field and deliver one digest\n"
    "                        (JSON) per group and window instead of each alert\n"
    "      --digest-window DURATION\n"
    "                        the window, e.g. 300ms, 30s, 5m, 1h (default 5m)\n"
    "  -h, --help            show this help and exit\n"
    "      --version         show the version and exit\n"
    "\n"
    "With --durable, FILE holds the sequence of the last alert delivered\n"
    "(missing: 0). tp-tail subscribes, asks the replay endpoint for every alert\n"
    "after it, holds live alerts back until the replay ends, then delivers live\n"
    "alerts in sequence, dropping duplicates; when the live stream skips a\n"
    "sequence it replays again. --topic is then applied by tp-tail itself. FILE\n"
    "is rewritten (FILE.tmp, fsync, rename) at most every 200 ms and at exit, so\n"
    "after a crash up to 200 ms of alerts are delivered again (at-least-once:\n"
    "dedup by \"sequence\"), none is lost. FILE never moves past an alert the\n"
    "output has not taken (a webhook: answered 2xx; digests: the digest holding\n"
    "it). While the replay endpoint is down, gaps are remembered and filled late\n"
    "(out of order) once it answers again.\n"
    "\n"
    "Delivery is in order, one message at a time. A failed write, a refused\n"
    "connection, a timeout, 5xx, 408 or 429 is retried after 100 ms, doubling to\n"
    "30 s, with jitter; failures are counted and logged (at most one line per\n"
    "10 s). Up to 1000 messages wait meanwhile; then tp-tail stops reading and\n"
    "ZeroMQ drops alerts on the daemon's side (with --durable the next replay\n"
    "brings them back). Any other 4xx refuses that message for good: it is\n"
    "logged whole on stderr with its alert id, counted as failed and skipped.\n"
    "\n"
    "With --alertmanager, tp-tail keeps the set of open alerts and posts it to\n"
    "each Alertmanager: new and resolved alerts at once (RESOLVED with endsAt),\n"
    "in batches, every open one again each --alertmanager-resend, retrying with\n"
    "back-off while an Alertmanager is down. Labels: alertname (the rule), kind,\n"
    "severity, alert_id and each of territory, rep_id, hcp_id, account_id,\n"
    "contract_id, call_id, step that is set; annotations summary, evidence,\n"
    "detected_at. With --durable it rebuilds the open set from the replay\n"
    "endpoint from sequence 0 at each start (FILE then only marks which\n"
    "resolutions were posted), so after a restart every open alert is posted\n"
    "again. See docs/alerting.md.\n"
    "\n"
    "Digests: {\"group_by\",\"key\" (missing field: \"(none)\"),\"window_start\",\n"
    "\"window_end\",\"firing\",\"resolved\",\"by_rule\":{rule:count},\"alerts\":[{\"alert_id\",\n"
    "\"status\",\"rule\",\"summary\"}, the first 50],\"alerts_omitted\"}. A group's window\n"
    "opens with its first alert (wall time in tp-tail); at exit open windows are\n"
    "closed early.\n"
    "\n"
    "At exit tp-tail prints \"tp-tail: alerts N, malformed M\" and \"tp-tail:\n"
    "delivered D, retried R, failed F, pending P\" (messages) on stderr.\n"
    "Exit status: 0 after --count alerts, --timeout-ms of silence, SIGINT or\n"
    "SIGTERM; 1 when a message was refused (4xx) or --webhook-retries ran out;\n"
    "2 usage, ZeroMQ or FILE error.\n";

int tp_tail_parse_args(int argc, char **argv, struct tp_tail_opts *o) {
    enum {
        OPT_BIND = 256,
        OPT_TIMEOUT_MS,
        OPT_VERSION,
        OPT_DURABLE,
        OPT_REPLAY,
        OPT_REPLAY_TIMEOUT,
        OPT_CURVE_SERVER,
        OPT_CURVE_SECRET,
        OPT_OUTPUT,
        OPT_FSYNC,
        OPT_WEBHOOK,
        OPT_WEBHOOK_HEADER,
        OPT_WEBHOOK_TIMEOUT,
        OPT_WEBHOOK_RETRIES,
        OPT_DIGEST,
        OPT_DIGEST_WINDOW,
        OPT_AM,
        OPT_AM_RESEND,
        OPT_AM_BATCH,
        OPT_CA_FILE,
        OPT_BEARER_FILE,
        OPT_BASIC_FILE
    };
    static const struct option longopts[] = {
        { "endpoint", required_argument, NULL, 'e' },
        { "bind", no_argument, NULL, OPT_BIND },
        { "topic", required_argument, NULL, 't' },
        { "count", required_argument, NULL, 'c' },
        { "timeout-ms", required_argument, NULL, OPT_TIMEOUT_MS },
        { "durable", required_argument, NULL, OPT_DURABLE },
        { "replay-endpoint", required_argument, NULL, OPT_REPLAY },
        { "replay-timeout-ms", required_argument, NULL, OPT_REPLAY_TIMEOUT },
        { "curve-server-key", required_argument, NULL, OPT_CURVE_SERVER },
        { "curve-secret-key-file", required_argument, NULL, OPT_CURVE_SECRET },
        { "output", required_argument, NULL, OPT_OUTPUT },
        { "fsync", no_argument, NULL, OPT_FSYNC },
        { "webhook", required_argument, NULL, OPT_WEBHOOK },
        { "webhook-header", required_argument, NULL, OPT_WEBHOOK_HEADER },
        { "webhook-timeout-ms", required_argument, NULL, OPT_WEBHOOK_TIMEOUT },
        { "webhook-retries", required_argument, NULL, OPT_WEBHOOK_RETRIES },
        { "digest", required_argument, NULL, OPT_DIGEST },
        { "digest-window", required_argument, NULL, OPT_DIGEST_WINDOW },
        { "alertmanager", required_argument, NULL, OPT_AM },
        { "alertmanager-resend", required_argument, NULL, OPT_AM_RESEND },
        { "alertmanager-batch", required_argument, NULL, OPT_AM_BATCH },
        { "ca-file", required_argument, NULL, OPT_CA_FILE },
        { "bearer-token-file", required_argument, NULL, OPT_BEARER_FILE },
        { "basic-auth-file", required_argument, NULL, OPT_BASIC_FILE },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, OPT_VERSION },
        { NULL, 0, NULL, 0 },
    };
    *o = (struct tp_tail_opts){ .endpoint = TP_TAIL_DEFAULT_ENDPOINT,
                                .replay_endpoint = TP_TAIL_DEFAULT_REPLAY,
                                .replay_timeout_ms = 5000,
                                .webhook_timeout_ms = 5000,
                                .alertmanager_resend_ms = 60 * 1000,
                                .alertmanager_batch = 500,
                                .digest_window_ms = 5 * 60 * 1000 };
    const char *curve_server = NULL, *curve_secret = NULL;
    int         c;
    while ((c = getopt_long(argc, argv, "e:t:c:h", longopts, NULL)) != -1) {
        uint64_t *num = NULL;
        switch (c) {
        case 'e': o->endpoint = optarg; break;
        case OPT_BIND: o->bind = true; break;
        case 't':
            if (o->n_topics == TP_TAIL_MAX_TOPICS) {
                fprintf(stderr, "tp-tail: at most %d --topic options\n", TP_TAIL_MAX_TOPICS);
                return -EINVAL;
            }
            o->topics[o->n_topics++] = optarg;
            break;
        case 'c': num = &o->count; break;
        case OPT_TIMEOUT_MS: num = &o->timeout_ms; break;
        case OPT_DURABLE: o->durable = optarg; break;
        case OPT_REPLAY: o->replay_endpoint = optarg; break;
        case OPT_REPLAY_TIMEOUT: num = &o->replay_timeout_ms; break;
        case OPT_CURVE_SERVER: curve_server = optarg; break;
        case OPT_CURVE_SECRET: curve_secret = optarg; break;
        case OPT_OUTPUT: o->output = optarg; break;
        case OPT_FSYNC: o->fsync = true; break;
        case OPT_WEBHOOK: o->webhook = optarg; break;
        case OPT_WEBHOOK_HEADER:
            if (o->n_headers == TP_TAIL_MAX_HEADERS) {
                fprintf(stderr, "tp-tail: at most %d --webhook-header options\n",
                        TP_TAIL_MAX_HEADERS);
                return -EINVAL;
            }
            o->headers[o->n_headers++] = optarg;
            break;
        case OPT_WEBHOOK_TIMEOUT: num = &o->webhook_timeout_ms; break;
        case OPT_WEBHOOK_RETRIES: num = &o->webhook_retries; break;
        case OPT_DIGEST:
            if (tp_digest_parse_by(optarg, &o->digest_by) < 0) {
                fprintf(stderr,
                        "tp-tail: --digest takes rep, territory, contract or hcp, "
                        "not '%s'\n",
                        optarg);
                return -EINVAL;
            }
            o->digest = true;
            break;
        case OPT_DIGEST_WINDOW:
            if (tp_cli_parse_duration_ms(optarg, &o->digest_window_ms) < 0) {
                fprintf(stderr,
                        "tp-tail: invalid --digest-window '%s' (expected a number "
                        "and a unit: ms, s, m, h, d)\n",
                        optarg);
                return -EINVAL;
            }
            break;
        case OPT_AM:
            if (o->n_alertmanager == TP_TAIL_MAX_AM) {
                fprintf(stderr, "tp-tail: at most %d --alertmanager options\n", TP_TAIL_MAX_AM);
                return -EINVAL;
            }
            o->alertmanager[o->n_alertmanager++] = optarg;
            break;
        case OPT_AM_RESEND:
            if (tp_cli_parse_duration_ms(optarg, &o->alertmanager_resend_ms) < 0 ||
                o->alertmanager_resend_ms == 0) {
                fprintf(stderr,
                        "tp-tail: invalid --alertmanager-resend '%s' (expected a number > 0 "
                        "and a unit: ms, s, m, h, d)\n",
                        optarg);
                return -EINVAL;
            }
            break;
        case OPT_AM_BATCH: num = &o->alertmanager_batch; break;
        case OPT_CA_FILE: o->ca_file = optarg; break;
        case OPT_BEARER_FILE: o->bearer_token_file = optarg; break;
        case OPT_BASIC_FILE: o->basic_auth_file = optarg; break;
        case 'h': fputs(s_usage, stdout); return 1;
        case OPT_VERSION: puts("tp-tail " TP_VERSION); return 1;
        default: fputs("Try 'tp-tail --help' for more information.\n", stderr); return -EINVAL;
        }
        if (num && tp_cli_parse_u64(optarg, num) < 0) {
            fprintf(stderr, "tp-tail: invalid number '%s' for option %s\n", optarg,
                    argv[optind - 1]);
            return -EINVAL;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "tp-tail: unexpected argument '%s'\n", argv[optind]);
        return -EINVAL;
    }
    char err[512];
    if (tp_curve_client_init(curve_server, curve_secret, &o->curve, err, sizeof err) < 0) {
        fprintf(stderr, "tp-tail: %s\n", err);
        return -EINVAL;
    }
    if (o->curve.on && o->bind) {
        fputs("tp-tail: --curve-* with --bind is not supported: with CURVE the daemon binds "
              "and tp-tail connects\n",
              stderr);
        return -EINVAL;
    }
    if (o->output && o->webhook) {
        fputs("tp-tail: --output and --webhook exclude each other (run two tp-tails)\n", stderr);
        return -EINVAL;
    }
    if (o->n_alertmanager && (o->output || o->webhook || o->digest)) {
        fputs("tp-tail: --alertmanager excludes --output, --webhook and --digest (run two "
              "tp-tails)\n",
              stderr);
        return -EINVAL;
    }
    if ((o->ca_file || o->bearer_token_file || o->basic_auth_file) && !o->webhook &&
        !o->n_alertmanager) {
        fputs("tp-tail: --ca-file, --bearer-token-file and --basic-auth-file need --webhook or "
              "--alertmanager\n",
              stderr);
        return -EINVAL;
    }
    if (o->bearer_token_file && o->basic_auth_file) {
        fputs("tp-tail: --bearer-token-file and --basic-auth-file exclude each other\n", stderr);
        return -EINVAL;
    }
    if (o->alertmanager_batch == 0 || o->alertmanager_batch > 100000) {
        fputs("tp-tail: --alertmanager-batch must be between 1 and 100000\n", stderr);
        return -EINVAL;
    }
    if ((o->n_headers || o->webhook_retries) && !o->webhook) {
        fputs("tp-tail: --webhook-header and --webhook-retries need --webhook\n", stderr);
        return -EINVAL;
    }
    if (o->fsync && !o->output) {
        fputs("tp-tail: --fsync needs --output\n", stderr);
        return -EINVAL;
    }
    if (o->webhook_timeout_ms == 0 || o->webhook_timeout_ms > 24u * 3600 * 1000) {
        fputs("tp-tail: --webhook-timeout-ms must be between 1 and 86400000\n", stderr);
        return -EINVAL;
    }
    if (o->durable && (!*o->durable || o->replay_timeout_ms == 0)) {
        fputs("tp-tail: --durable needs a file name and --replay-timeout-ms > 0\n", stderr);
        return -EINVAL;
    }
    return 0;
}
