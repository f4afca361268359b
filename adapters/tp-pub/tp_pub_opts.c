/* tp_pub_opts — tp-pub's command line: the help text and the options,
 * checked together (which need which, ranges, CURVE) before anything runs.
 * See tp_pub.h. */
#include "tp_pub.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>

#include "tp_cli.h"
#include "tp_partition.h"

#define TP_PUB_MAX_WINDOW      1000000
#define TP_PUB_MAX_ACK_TIMEOUT 3600000 /* ms */

static const char s_usage[] =
    "Usage: tp-pub [OPTIONS] [FILE|-]\n"
    "       tp-pub --map MAPPING.yaml [OPTIONS] [EXPORT.csv|EXPORT.jsonl|-]\n"
    "\n"
    "Publish JSON lines to touchpointd. Each line of FILE (standard input if FILE\n"
    "is \"-\" or missing) is one proto3 JSON touchpoint.v1.Envelope; it is sent as\n"
    "the ZeroMQ message [topic, Envelope], the topic (crm.call, crm.contracting,\n"
    "crm.feedback, crm.watermark) following the payload. Blank lines are skipped.\n"
    "Nothing is sent before a subscriber has subscribed (XPUB).\n"
    "\n"
    "With --map the input is a CRM export instead, CSV (a header row first) or\n"
    "JSON lines, with the columns named as the export names them; the mapping\n"
    "file says how each becomes an Envelope (mappings/*.yaml; README, \"From CRM\n"
    "exports to alerts\"). Line numbers are physical lines: a quoted CSV cell\n"
    "holding line breaks counts each.\n"
    "\n"
    "  -m, --map FILE       read a CRM export mapped by the mapping file FILE\n"
    "  -n, --dry-run        send nothing: check every line or row and print each\n"
    "                       Envelope as a JSON line on stdout (what tp-pub reads\n"
    "                       without --map: converts an export to JSON lines)\n"
    "  -e, --endpoint EP    ZeroMQ endpoint (default " TP_PUB_DEFAULT_ENDPOINT ",\n"
    "                       touchpointd's default input)\n"
    "      --bind           bind EP instead of connecting to it\n"
    "  -r, --rate N         publish at most N events per second (default 0: as\n"
    "                       fast as possible)\n"
    "  -c, --count N        stop after N published events (default 0: no limit)\n"
    "      --keep-going     report a bad line and carry on (the default)\n"
    "      --stop-on-error  stop at the first bad line\n"
    "      --wait-ms N      wait up to N ms for a subscriber before the first event\n"
    "                       (default 5000); with --reliable, for the daemon before\n"
    "                       the first event and then for its answers (default 30000)\n"
    "      --reliable       lose nothing: send through touchpointd's reliable input\n"
    "                       (DEALER to its ROUTER, default endpoint\n"
    "                       " TP_PUB_RELIABLE_ENDPOINT "), resend what is not\n"
    "                       acknowledged\n"
    "      --window N       with --reliable, at most N events unacknowledged at\n"
    "                       once (default 1000)\n"
    "      --ack-timeout-ms N  with --reliable, resend an event not acknowledged\n"
    "                       within N ms (default 2000), doubling per event up to 30 s\n"
    "      --curve-server-key KEY\n"
    "                       the daemon's CURVE public key (Z85, as tp-keygen\n"
    "                       prints it); with --curve-secret-key-file every\n"
    "                       socket is a CURVE client. Not with --bind\n"
    "      --curve-secret-key-file FILE\n"
    "                       this client's secret key (tp-keygen --write FILE);\n"
    "                       the daemon must list its public key in curve_clients\n"
    "      --nats URL       publish to JetStream instead (touchpointd's nats mode):\n"
    "                       subject tp.events.<P>.<kind>, P = FNV-1a 32 of hcp_id\n"
    "                       (a contract without one: contract_id) mod --partitions,\n"
    "                       a watermark to every partition; Nats-Msg-Id = eventId\n"
    "                       (required). Waits for every PubAck (--window at most\n"
    "                       outstanding, --wait-ms for the last ones)\n"
    "      --partitions N   with --nats, the daemons' nats.partition_count (default 16)\n"
    "  -h, --help           show this help and exit\n"
    "      --version        show the version and exit\n"
    "\n"
    "A bad line (invalid JSON, not an Envelope, no payload) is reported on stderr\n"
    "as \"tp-pub: FILE:LINE: reason\"; with --map, a bad row as \"tp-pub: FILE:LINE:\n"
    "column NAME: reason\" (e.g. an unknown picklist value, a bad time, a required\n"
    "cell empty) and counted as a bad line. A mapping file that is refused, or a\n"
    "CSV header without a column the mapping reads, stops tp-pub (exit 2). At exit tp-pub prints\n"
    "\"tp-pub: published N, bad lines M\" on stderr.\n"
    "\n"
    "Exit status: 0 every line was published (with --reliable: and acknowledged);\n"
    "1 there were bad lines (also with --keep-going; with --reliable also refused\n"
    "or unacknowledged events); 2 usage, input or ZeroMQ error, or no subscriber\n"
    "within --wait-ms (with --reliable: no daemon connected within --wait-ms).\n"
    "\n"
    "With --reliable every line needs an eventId; the daemon answers each event\n"
    "with an ACK once it is committed or a NACK, reported as \"tp-pub: FILE:LINE:\n"
    "refused by the daemon: reason\" and counted as a bad line. At the end of the\n"
    "input tp-pub waits for every answer; after --wait-ms without any (also while\n"
    "the window is full) it prints \"N events unacknowledged\" and exits 1. An\n"
    "eventId repeated while still unacknowledged is sent again but shares the\n"
    "first one's answer. The summary is \"tp-pub: published N, acknowledged A,\n"
    "refused R, resent S, bad lines M\".\n";

int tp_pub_parse_args(int argc, char **argv, struct tp_pub_opts *o) {
    enum {
        OPT_BIND = 256,
        OPT_KEEP_GOING,
        OPT_STOP_ON_ERROR,
        OPT_WAIT_MS,
        OPT_VERSION,
        OPT_RELIABLE,
        OPT_WINDOW,
        OPT_ACK_TIMEOUT,
        OPT_CURVE_SERVER,
        OPT_CURVE_SECRET,
        OPT_NATS,
        OPT_PARTITIONS
    };
    static const struct option longopts[] = {
        { "endpoint", required_argument, NULL, 'e' },
        { "bind", no_argument, NULL, OPT_BIND },
        { "rate", required_argument, NULL, 'r' },
        { "count", required_argument, NULL, 'c' },
        { "keep-going", no_argument, NULL, OPT_KEEP_GOING },
        { "stop-on-error", no_argument, NULL, OPT_STOP_ON_ERROR },
        { "wait-ms", required_argument, NULL, OPT_WAIT_MS },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, OPT_VERSION },
        { "reliable", no_argument, NULL, OPT_RELIABLE },
        { "window", required_argument, NULL, OPT_WINDOW },
        { "ack-timeout-ms", required_argument, NULL, OPT_ACK_TIMEOUT },
        { "curve-server-key", required_argument, NULL, OPT_CURVE_SERVER },
        { "curve-secret-key-file", required_argument, NULL, OPT_CURVE_SECRET },
        { "map", required_argument, NULL, 'm' },
        { "dry-run", no_argument, NULL, 'n' },
        { "nats", required_argument, NULL, OPT_NATS },
        { "partitions", required_argument, NULL, OPT_PARTITIONS },
        { NULL, 0, NULL, 0 },
    };
    *o = (struct tp_pub_opts){
        .file = "-", .window = 1000, .ack_timeout_ms = 2000, .partitions = 16
    };
    bool        window_set = false;
    bool        wait_set = false, reliable_opts = false;
    const char *curve_server = NULL, *curve_secret = NULL;
    int         c;
    while ((c = getopt_long(argc, argv, "e:r:c:m:nh", longopts, NULL)) != -1) {
        uint64_t *num = NULL;
        switch (c) {
        case 'e': o->endpoint = optarg; break;
        case OPT_BIND: o->bind = true; break;
        case 'r': num = &o->rate; break;
        case 'c': num = &o->count; break;
        case OPT_KEEP_GOING: o->stop_on_error = false; break;
        case OPT_STOP_ON_ERROR: o->stop_on_error = true; break;
        case OPT_WAIT_MS:
            num = &o->wait_ms;
            wait_set = true;
            break;
        case OPT_RELIABLE: o->reliable = true; break;
        case OPT_WINDOW:
            num = &o->window;
            window_set = true;
            break;
        case OPT_ACK_TIMEOUT:
            num = &o->ack_timeout_ms;
            reliable_opts = true;
            break;
        case OPT_CURVE_SERVER: curve_server = optarg; break;
        case OPT_CURVE_SECRET: curve_secret = optarg; break;
        case 'm': o->map = optarg; break;
        case 'n': o->dry_run = true; break;
        case OPT_NATS: o->nats = optarg; break;
        case OPT_PARTITIONS: num = &o->partitions; break;
        case 'h': fputs(s_usage, stdout); return 1;
        case OPT_VERSION: puts("tp-pub " TP_VERSION); return 1;
        default: fputs("Try 'tp-pub --help' for more information.\n", stderr); return -EINVAL;
        }
        if (num && tp_cli_parse_u64(optarg, num) < 0) {
            fprintf(stderr, "tp-pub: invalid number '%s' for option %s\n", optarg,
                    argv[optind - 1]);
            return -EINVAL;
        }
    }
    if ((reliable_opts && !o->reliable) || (window_set && !o->reliable && !o->nats)) {
        fprintf(stderr, "tp-pub: --window and --ack-timeout-ms need --reliable (--window: or "
                        "--nats)\n");
        return -EINVAL;
    }
    if (o->nats && (o->reliable || o->endpoint || o->bind || curve_server || curve_secret)) {
        fprintf(stderr, "tp-pub: --nats publishes to JetStream: not with --reliable, --endpoint, "
                        "--bind or --curve-*\n");
        return -EINVAL;
    }
    if (o->partitions == 0 || o->partitions > TP_PARTITION_MAX) {
        fprintf(stderr, "tp-pub: --partitions must be 1..%d\n", TP_PARTITION_MAX);
        return -EINVAL;
    }
    char err[512];
    if (tp_curve_client_init(curve_server, curve_secret, &o->curve, err, sizeof err) < 0) {
        fprintf(stderr, "tp-pub: %s\n", err);
        return -EINVAL;
    }
    /* A bound tp-pub would have to be the CURVE server, with its own
     * allow-list: not supported; the documented topology is the daemon
     * binding and the tools connecting. */
    if (o->curve.on && o->bind) {
        fprintf(stderr, "tp-pub: --curve-* with --bind is not supported: with CURVE the daemon "
                        "binds and tp-pub connects\n");
        return -EINVAL;
    }
    if (!o->endpoint)
        o->endpoint = o->reliable ? TP_PUB_RELIABLE_ENDPOINT : TP_PUB_DEFAULT_ENDPOINT;
    if (!wait_set)
        o->wait_ms = o->reliable || o->nats ? 30000 : 5000;
    if (o->window == 0 || o->window > TP_PUB_MAX_WINDOW || o->ack_timeout_ms == 0 ||
        o->ack_timeout_ms > TP_PUB_MAX_ACK_TIMEOUT) {
        fprintf(stderr, "tp-pub: --window must be 1..%d, --ack-timeout-ms 1..%d\n",
                TP_PUB_MAX_WINDOW, TP_PUB_MAX_ACK_TIMEOUT);
        return -EINVAL;
    }
    if (o->wait_ms > INT32_MAX || o->rate > 1000000000) {
        fprintf(stderr, "tp-pub: --wait-ms or --rate out of range\n");
        return -EINVAL;
    }
    if (argc - optind > 1) {
        fprintf(stderr, "tp-pub: one input FILE at most\n");
        return -EINVAL;
    }
    if (optind < argc)
        o->file = argv[optind];
    return 0;
}
