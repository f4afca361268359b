/* tp_backfill — see tp_backfill.h. */
#include "tp_backfill.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tp_engine.h"
#include "tp_json.h"
#include "tp_log.h"

#define MAX_LINE (1024 * 1024) /* same bound as a bus message */

static int s_print_cb(void *ctx, const char *topic, const uint8_t *buf, size_t len,
                      const Touchpoint__V1__Alert *alert) {
    (void)buf;
    (void)len;
    char *line;
    int   r = tp_json_dumps_alert(topic, strlen(topic), &alert->base, &line);
    if (r < 0)
        return r;
    fprintf(ctx, "%s\n", line);
    free(line);
    return 0;
}

static bool s_blank(const char *s) {
    return s[strspn(s, " \t\r\n")] == '\0';
}

int tp_backfill_file(const tp_config_t *cfg, const char *path, FILE *out,
                     tp_backfill_result_t *ret) {
    /* The engine borrows the config: a shallow copy that differs only in
     * its clock is enough, the owned strings stay with `cfg`. */
    tp_config_t replay_cfg = *cfg;
    replay_cfg.clock = TP_CLOCK_EVENT;

    bool  is_stdin = strcmp(path, "-") == 0;
    FILE *in = is_stdin ? stdin : fopen(path, "re");
    if (!in)
        return log_error_errno(errno, "Failed to open '%s': %m", path);
    tp_engine_t *e = NULL;
    int          r = tp_engine_new(&replay_cfg, &e);
    if (r < 0) {
        if (!is_stdin)
            fclose(in);
        return log_error_errno(r, "Failed to set up the rule engine: %m");
    }
    tp_engine_set_sink(e, s_print_cb, out);

    tp_backfill_result_t res = { 0 };
    char                *line = NULL;
    size_t               cap = 0;
    ssize_t              n;
    uint64_t             lineno = 0;
    while ((n = getline(&line, &cap, in)) >= 0) {
        lineno++;
        if (s_blank(line))
            continue;
        res.lines++;
        char              err[256];
        ProtobufCMessage *msg = NULL;
        if (n > MAX_LINE) {
            snprintf(err, sizeof err, "line longer than %d bytes", MAX_LINE);
            r = -EINVAL;
        } else {
            r = tp_json_parse_message(line, (size_t)n, &touchpoint__v1__envelope__descriptor, err,
                                      sizeof err, &msg);
        }
        if (r < 0) {
            res.bad_lines++;
            fprintf(stderr, "touchpointd: %s:%llu: %s\n", path, (unsigned long long)lineno, err);
            continue;
        }
        r = tp_engine_handle_envelope(e, (const Touchpoint__V1__Envelope *)msg);
        protobuf_c_message_free_unpacked(msg, NULL);
        if (r < 0)
            break;
        if (r == TP_REFUSED)
            fprintf(stderr, "touchpointd: %s:%llu: event refused (see the log above)\n", path,
                    (unsigned long long)lineno);
        r = 0;
    }
    if (r == 0 && ferror(in))
        r = log_error_errno(EIO, "Failed to read '%s': %m", path);
    fflush(out);
    free(line);
    if (!is_stdin)
        fclose(in);

    res.stats = *tp_engine_stats(e);
    res.open_alerts = tp_engine_open_alerts(e);
    res.pending_deadlines = tp_engine_deadlines(e);
    res.event_time_ms = tp_clock_now(tp_engine_clock(e));
    tp_engine_destroy(&e);
    *ret = res;
    return r;
}
