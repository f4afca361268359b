/* fuzz_replay — the fuzz targets without libFuzzer: runs files through the
 * same entry points, so the seed corpora are a regression suite (ctest
 * test_fuzz_corpus) in the normal and sanitizer builds, and a crash file
 * can be replayed under gdb or valgrind. Also makes the engine and JSON
 * seeds (fuzz/make_seeds.py calls it).
 *
 *   fuzz_replay engine|json|config FILE|DIR...   each file (DIR: its files)
 *   fuzz_replay --corpus DIR                      DIR/fuzz_engine, fuzz_json, fuzz_config
 *   fuzz_replay --pack < in.jsonl > seed          one raw engine record per line
 *   fuzz_replay --alerts < in.jsonl               the alert lines the engine raises
 *   fuzz_replay --default-config                  the embedded default YAML
 */
#include "tp_fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tp_json.h"

typedef int (*s_target_fn)(const uint8_t *data, size_t size);

static const struct {
    const char *name;
    s_target_fn fn;
} s_targets[] = {
    { "engine", tp_fuzz_engine },
    { "json", tp_fuzz_json },
    { "config", tp_fuzz_config },
};

static s_target_fn s_find(const char *name) {
    if (strncmp(name, "fuzz_", 5) == 0)
        name += 5;
    for (size_t i = 0; i < sizeof s_targets / sizeof s_targets[0]; i++)
        if (strcmp(s_targets[i].name, name) == 0)
            return s_targets[i].fn;
    return NULL;
}

/* Reads a whole file into a new buffer (an exact-size copy, so ASan sees
 * any read past the input). */
static uint8_t *s_read(FILE *f, size_t *ret_len) {
    size_t   cap = 4096, len = 0;
    uint8_t *buf = malloc(cap);
    size_t   n;
    while (buf && (n = fread(buf + len, 1, cap - len, f)) > 0) {
        len += n;
        if (len == cap) {
            uint8_t *bigger = realloc(buf, cap *= 2);
            if (!bigger)
                free(buf);
            buf = bigger;
        }
    }
    if (!buf || ferror(f)) {
        free(buf);
        return NULL;
    }
    uint8_t *exact = malloc(len ? len : 1);
    if (exact)
        memcpy(exact, buf, len);
    free(buf);
    *ret_len = len;
    return exact;
}

static int s_run_file(s_target_fn fn, const char *path) {
    FILE    *f = fopen(path, "rb");
    size_t   len;
    uint8_t *data = f ? s_read(f, &len) : NULL;
    if (f)
        fclose(f);
    if (!data) {
        fprintf(stderr, "fuzz_replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    fn(data, len);
    free(data);
    return 0;
}

/* A file, or every regular file in a directory (sorted, not recursive).
 * Returns the number of files run, or -1. */
static long s_run_path(s_target_fn fn, const char *path) {
    struct stat st;
    if (stat(path, &st) < 0) {
        fprintf(stderr, "fuzz_replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode))
        return s_run_file(fn, path) < 0 ? -1 : 1;
    struct dirent **names;
    int             n = scandir(path, &names, NULL, alphasort);
    if (n < 0) {
        fprintf(stderr, "fuzz_replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    long count = 0;
    for (int i = 0; i < n; i++) {
        char file[4096];
        snprintf(file, sizeof file, "%s/%s", path, names[i]->d_name);
        if (names[i]->d_name[0] != '.' && stat(file, &st) == 0 && S_ISREG(st.st_mode)) {
            if (count >= 0 && s_run_file(fn, file) == 0)
                count++;
            else
                count = -1;
        }
        free(names[i]);
    }
    free(names);
    return count;
}

static int s_corpus(const char *dir) {
    for (size_t i = 0; i < sizeof s_targets / sizeof s_targets[0]; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/fuzz_%s", dir, s_targets[i].name);
        long n = s_run_path(s_targets[i].fn, path);
        if (n <= 0) {
            fprintf(stderr, "fuzz_replay: no inputs run from %s\n", path);
            return 1;
        }
        printf("fuzz_%s: %ld inputs ok\n", s_targets[i].name, n);
    }
    return 0;
}

/* Calls fn on each line of stdin parsed as an Envelope. */
static int s_each_envelope(int (*fn)(void *ctx, const Touchpoint__V1__Envelope *env), void *ctx) {
    char   *line = NULL;
    size_t  cap = 0;
    ssize_t n;
    int     rc = 0;
    while (rc == 0 && (n = getline(&line, &cap, stdin)) > 0) {
        char              err[256];
        ProtobufCMessage *m;
        if (tp_json_parse_message(line, (size_t)n, &touchpoint__v1__envelope__descriptor, err,
                                  sizeof err, &m) < 0) {
            fprintf(stderr, "fuzz_replay: %s\n", err);
            rc = 1;
            break;
        }
        rc = fn(ctx, (Touchpoint__V1__Envelope *)m);
        protobuf_c_message_free_unpacked(m, NULL);
    }
    free(line);
    return rc;
}

static int s_pack_cb(void *ctx, const Touchpoint__V1__Envelope *env) {
    (void)ctx;
    size_t   len = touchpoint__v1__envelope__get_packed_size(env);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf || len > 0xFFFF)
        return 1;
    touchpoint__v1__envelope__pack(env, buf);
    uint8_t hdr[3] = { (uint8_t)(env->payload_case - TOUCHPOINT__V1__ENVELOPE__PAYLOAD_CALL),
                       (uint8_t)(len >> 8), (uint8_t)len };
    fwrite(hdr, 1, sizeof hdr, stdout);
    fwrite(buf, 1, len, stdout);
    free(buf);
    return 0;
}

static int s_print_cb(void *ctx, const char *topic, const uint8_t *buf, size_t len,
                      const Touchpoint__V1__Alert *alert) {
    (void)ctx, (void)buf, (void)len;
    char *line;
    if (tp_json_dumps_alert(topic, strlen(topic), &alert->base, &line) == 0) {
        puts(line);
        free(line);
    }
    return 0;
}

static int s_handle_cb(void *ctx, const Touchpoint__V1__Envelope *env) {
    tp_engine_t *e = ctx;
    return tp_engine_handle_envelope(e, env) < 0;
}

/* The engine of fuzz_engine (default config, event clock) on stdin, its
 * alerts printed, then time moved 60 days on to fire what is pending. */
static int s_alerts(void) {
    const char  *yaml = tp_config_default_yaml();
    tp_config_t *cfg;
    tp_engine_t *e;
    char         err[256];
    if (tp_config_parse(yaml, strlen(yaml), "<embedded>", err, sizeof err, &cfg) < 0)
        return 1;
    cfg->clock = TP_CLOCK_EVENT;
    if (tp_engine_new(cfg, &e) < 0)
        return 1;
    tp_engine_set_sink(e, s_print_cb, NULL);
    int                       rc = s_each_envelope(s_handle_cb, e);
    Touchpoint__V1__Watermark wm = TOUCHPOINT__V1__WATERMARK__INIT;
    Touchpoint__V1__Envelope  env = TOUCHPOINT__V1__ENVELOPE__INIT;
    wm.now_ms = env.occurred_at_ms = tp_clock_now(tp_engine_clock(e)) + 60LL * 86400000;
    env.event_id = "seed-flush";
    env.source = "seed";
    env.payload_case = TOUCHPOINT__V1__ENVELOPE__PAYLOAD_WATERMARK;
    env.watermark = &wm;
    tp_engine_handle_envelope(e, &env);
    tp_engine_destroy(&e);
    tp_config_destroy(&cfg);
    return rc;
}

static int s_usage(void) {
    fprintf(stderr, "usage: fuzz_replay engine|json|config FILE|DIR...\n"
                    "       fuzz_replay --corpus DIR\n"
                    "       fuzz_replay --pack | --alerts < in.jsonl\n"
                    "       fuzz_replay --default-config\n");
    return 2;
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "--corpus") == 0)
        return s_corpus(argv[2]);
    if (argc == 2 && strcmp(argv[1], "--pack") == 0)
        return s_each_envelope(s_pack_cb, NULL);
    if (argc == 2 && strcmp(argv[1], "--alerts") == 0)
        return s_alerts();
    if (argc == 2 && strcmp(argv[1], "--default-config") == 0)
        return fputs(tp_config_default_yaml(), stdout) < 0;
    s_target_fn fn = argc >= 3 ? s_find(argv[1]) : NULL;
    if (!fn)
        return s_usage();
    long total = 0;
    for (int i = 2; i < argc; i++) {
        long n = s_run_path(fn, argv[i]);
        if (n < 0)
            return 1;
        total += n;
    }
    printf("%s: %ld inputs ok\n", argv[1], total);
    return 0;
}
