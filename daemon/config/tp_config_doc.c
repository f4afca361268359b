/* tp-config-doc — prints, rewrites or checks the configuration reference
 * generated from the key table (see tp_config_doc.h). Built with the
 * project, never installed.
 *
 *   tp-config-doc [--markdown]     the Markdown block of docs/configuration.md
 *   tp-config-doc --man            the key list of man/touchpointd.yaml.5
 *   tp-config-doc --keys           every documented key, one a line
 *   tp-config-doc --write ROOT     rewrite both generated blocks under ROOT in place
 *   tp-config-doc --check ROOT     exit 1 on any drift (ctest test_config_docs):
 *       the two blocks differ from what the table generates (a diff is printed),
 *       the man page lists a key outside the table, examples/touchpointd.yaml
 *       does not load or leaves a key neither set nor commented out, or the
 *       embedded defaults (--print-config) leave a key out.
 */
#include "tp_config_doc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define REGENERATE "cmake --build build --target config-docs   (or: build/tp-config-doc --write .)"

typedef struct {
    const char *rel;   /* path under ROOT */
    const char *begin; /* marker lines, matched at the start of a line */
    const char *end;
    void (*gen)(FILE *);
} block_t;

static const block_t s_blocks[] = {
    { "docs/configuration.md", TP_DOC_MD_BEGIN, TP_DOC_MD_END, tp_doc_markdown },
    { "man/touchpointd.yaml.5", TP_DOC_MAN_BEGIN, TP_DOC_MAN_END, tp_doc_man },
};

static int s_read(const char *path, char **ret, size_t *ret_len) {
    FILE *f = fopen(path, "re");
    if (!f)
        return -errno;
    char  *buf = NULL;
    size_t len = 0;
    FILE  *m = open_memstream(&buf, &len);
    char   chunk[65536];
    size_t n;
    int    r = 0;
    if (!m) {
        r = -errno;
        goto fail;
    }
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        fwrite(chunk, 1, n, m);
    if (ferror(f))
        r = -EIO;
    fclose(m);
    if (r < 0) {
        free(buf);
        goto fail;
    }
    *ret = buf, *ret_len = len;
fail:
    fclose(f);
    return r;
}

static char *s_generate(void (*gen)(FILE *), size_t *ret_len) {
    char  *buf = NULL;
    size_t len = 0;
    FILE  *m = open_memstream(&buf, &len);
    if (!m)
        return NULL;
    gen(m);
    fclose(m);
    *ret_len = len;
    return buf;
}

/* The block in `text`: from the line starting with `begin` through the end
 * of the line starting with `end`. */
static int s_find(const char *text, const char *begin, const char *end, size_t *ret_at,
                  size_t *ret_len) {
    const char *b = NULL, *e = NULL;
    for (const char *l = text; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
        if (!b && !strncmp(l, begin, strlen(begin)))
            b = l;
        else if (b && !strncmp(l, end, strlen(end))) {
            e = strchr(l, '\n');
            e = e ? e + 1 : l + strlen(l);
            break;
        }
    }
    if (!b || !e)
        return -ENOENT;
    *ret_at = (size_t)(b - text), *ret_len = (size_t)(e - b);
    return 0;
}

static int s_write_file(const char *path, const char *a, size_t alen, const char *b, size_t blen,
                        const char *c, size_t clen) {
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "we");
    if (!f)
        return -errno;
    fwrite(a, 1, alen, f);
    fwrite(b, 1, blen, f);
    fwrite(c, 1, clen, f);
    if (fclose(f) != 0 || rename(tmp, path) < 0) {
        int r = -errno;
        unlink(tmp);
        return r;
    }
    return 0;
}

/* Shows how the file's block differs, with diff(1). */
static void s_diff(const char *rel, const char *have, size_t hlen, const char *want, size_t wlen) {
    char a[] = "/tmp/tp-config-doc.have.XXXXXX", b[] = "/tmp/tp-config-doc.want.XXXXXX";
    int  fa = mkstemp(a), fb = mkstemp(b);
    if (fa >= 0 && fb >= 0 && write(fa, have, hlen) == (ssize_t)hlen &&
        write(fb, want, wlen) == (ssize_t)wlen) {
        char cmd[512];
        snprintf(cmd, sizeof cmd,
                 "diff -u --label '%s (in the tree)' --label '%s (generated)' %s %s", rel, rel, a,
                 b);
        fflush(stdout);
        if (system(cmd) < 0)
            fprintf(stderr, "tp-config-doc: cannot run diff: %m\n");
    }
    if (fa >= 0)
        close(fa), unlink(a);
    if (fb >= 0)
        close(fb), unlink(b);
}

/* --write (fix) or --check one generated block; returns the problems found. */
static int s_block(const char *root, const block_t *bl, bool fix) {
    char   path[4096];
    char  *text = NULL, *gen = NULL;
    size_t len, glen, at, blen;
    int    r, bad = 0;
    snprintf(path, sizeof path, "%s/%s", root, bl->rel);
    if ((r = s_read(path, &text, &len)) < 0) {
        fprintf(stderr, "tp-config-doc: %s: %s\n", path, strerror(-r));
        return 1;
    }
    if (!(gen = s_generate(bl->gen, &glen))) {
        free(text);
        return 1;
    }
    if (s_find(text, bl->begin, bl->end, &at, &blen) < 0) {
        fprintf(stderr, "tp-config-doc: %s: no line starting '%s' followed by one starting '%s'\n",
                path, bl->begin, bl->end);
        bad = 1;
    } else if (blen != glen || memcmp(text + at, gen, glen)) {
        if (fix) {
            if ((r = s_write_file(path, text, at, gen, glen, text + at + blen, len - at - blen)) <
                0)
                fprintf(stderr, "tp-config-doc: %s: %s\n", path, strerror(-r)), bad = 1;
            else
                printf("tp-config-doc: rewrote the generated block of %s\n", bl->rel);
        } else {
            printf("%s: the generated key reference differs from daemon/config/tp_config_keys.c:\n",
                   bl->rel);
            s_diff(bl->rel, text + at, blen, gen, glen);
            printf("Regenerate it with: %s\n\n", REGENERATE);
            bad = 1;
        }
    }
    free(text);
    free(gen);
    return bad;
}

/* Man page: the keys its ".TP" entries name ("\fBkey\fR (") are exactly
 * the table's, hand-written entries outside the generated block included. */
static int s_man_keys(const char *root) {
    static doc_key_t keys[TP_DOC_MAX_KEYS];
    static bool      listed[TP_DOC_MAX_KEYS];
    size_t           n = tp_doc_keys(keys, sizeof keys / sizeof keys[0]);
    char             path[4096], *text;
    size_t           len;
    int              bad = 0;
    snprintf(path, sizeof path, "%s/man/touchpointd.yaml.5", root);
    if (s_read(path, &text, &len) < 0)
        return 1; /* reported by s_block */
    memset(listed, 0, sizeof listed);
    for (char *l = strstr(text, ".TP\n\\fB"); l; l = strstr(l + 1, ".TP\n\\fB")) {
        char   name[160];
        char  *s = l + 7, *e = strstr(s, "\\fR");
        size_t o = 0;
        if (!e || e - s >= (long)sizeof name)
            continue;
        for (; s < e && o + 1 < sizeof name; s++)
            if (!(s[0] == '\\' && s[1] == '-'))
                name[o++] = *s;
        name[o] = '\0';
        size_t i = 0;
        while (i < n && strcmp(keys[i].path, name))
            i++;
        if (i < n) {
            listed[i] = true;
        } else {
            printf("man/touchpointd.yaml.5: lists key %s, which the table does not have\n", name);
            bad = 1;
        }
    }
    for (size_t i = 0; i < n; i++)
        if (!listed[i]) {
            printf("man/touchpointd.yaml.5: does not list key %s\n", keys[i].path);
            bad = 1;
        }
    free(text);
    return bad;
}

static int s_example(const char *root) {
    char         path[4096], err[512], *text;
    size_t       len;
    tp_config_t *c = NULL;
    int          r;
    snprintf(path, sizeof path, "%s/examples/touchpointd.yaml", root);
    /* The daemon's own loader: valid, no unknown or duplicate key. */
    if (tp_config_load(path, err, sizeof err, &c) < 0) {
        printf("examples/touchpointd.yaml does not load: %s\n", err);
        return 1;
    }
    tp_config_destroy(&c);
    if ((r = s_read(path, &text, &len)) < 0)
        return 1;
    r = tp_doc_check_yaml(text, len, "examples/touchpointd.yaml", true, false, stdout);
    free(text);
    if (r != 0)
        printf("Every key of the table goes in examples/touchpointd.yaml, at its default"
               " (or commented out where it would go).\n\n");
    return r != 0;
}

static int s_defaults(void) {
    const char *y = tp_config_default_yaml();
    int r = tp_doc_check_yaml(y, strlen(y), "the embedded defaults (tp_config_default_yaml)", false,
                              true, stdout);
    if (r != 0)
        printf("touchpointd --print-config shows tp_config_default_yaml()"
               " (daemon/config/tp_config_keys.c): add the key there too.\n\n");
    return r != 0;
}

static int s_usage(FILE *f) {
    fputs("usage: tp-config-doc [--markdown | --man | --keys | --write ROOT | --check ROOT]\n", f);
    return f == stdout ? 0 : 2;
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "--markdown";
    if (tp_config_n_keys + tp_config_n_input_keys + tp_config_n_feedback_source_keys +
            tp_config_n_lua_rule_keys >
        TP_DOC_MAX_KEYS) {
        fprintf(stderr, "tp-config-doc: more keys than TP_DOC_MAX_KEYS; raise it\n");
        return 1;
    }
    if (!strcmp(mode, "--markdown") && argc <= 2) {
        tp_doc_markdown(stdout);
    } else if (!strcmp(mode, "--man") && argc == 2) {
        tp_doc_man(stdout);
    } else if (!strcmp(mode, "--keys") && argc == 2) {
        static doc_key_t keys[TP_DOC_MAX_KEYS];
        size_t           n = tp_doc_keys(keys, sizeof keys / sizeof keys[0]);
        for (size_t i = 0; i < n; i++)
            puts(keys[i].path);
    } else if ((!strcmp(mode, "--write") || !strcmp(mode, "--check")) && argc == 3) {
        bool fix = !strcmp(mode, "--write");
        int  bad = 0;
        for (size_t i = 0; i < sizeof s_blocks / sizeof s_blocks[0]; i++)
            bad += s_block(argv[2], &s_blocks[i], fix);
        if (fix)
            return bad ? 1 : 0;
        bad += s_man_keys(argv[2]);
        bad += s_example(argv[2]);
        bad += s_defaults();
        if (bad)
            printf("tp-config-doc: the configuration reference drifted from the key table"
                   " (daemon/config/tp_config_keys.c); see above\n");
        if (bad)
            return 1;
        printf("tp-config-doc: docs/configuration.md, man/touchpointd.yaml.5,"
               " examples/touchpointd.yaml and the embedded defaults match the key table\n");
    } else if (!strcmp(mode, "--help") || !strcmp(mode, "-h")) {
        return s_usage(stdout);
    } else {
        return s_usage(stderr);
    }
    return ferror(stdout) ? 1 : 0;
}
