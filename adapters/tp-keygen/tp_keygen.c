/* tp-keygen — makes CURVE keypairs for touchpointd and its clients (the
 * curve_keygen of libzmq, plus writing key files safely).
 *
 * Without arguments it prints a new keypair. With --write PATH it writes
 * the secret key to PATH (0600, O_EXCL: an existing key is never
 * overwritten) and the public key to PATH.pub (0644), and prints the
 * public key: what goes into a curve_clients file or --curve-server-key.
 * Keys come from zmq_curve_keypair(); nothing here does crypto itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zmq.h>

#include "tp_curve_key.h"

static const char s_usage[] =
    "Usage: tp-keygen [--write PATH]\n"
    "\n"
    "Generate a CURVE keypair (Z85) for touchpointd, tp-pub or tp-tail.\n"
    "\n"
    "Without options, print it as two lines:\n"
    "  public-key = <40 characters>\n"
    "  secret-key = <40 characters>\n"
    "\n"
    "  -w, --write PATH   write the secret key to PATH (mode 0600, never over an\n"
    "                     existing file) and the public key to PATH.pub (0644);\n"
    "                     print the public key\n"
    "  -h, --help         show this help and exit\n"
    "      --version      show the version and exit\n"
    "\n"
    "The daemon reads PATH through curve.secret_key_file; tools through\n"
    "--curve-secret-key-file. Give the public key to whoever configures the\n"
    "other side (a curve_clients file, or --curve-server-key). Exit status: 0\n"
    "done, 1 writing failed, 2 usage error.\n";

/* Writes `text` to a new file (O_EXCL) with `mode`. 0 or -errno. */
static int s_write_new(const char *path, mode_t mode, const char *text) {
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0)
        return -errno;
    size_t len = strlen(text), off = 0;
    int    r = 0;
    /* The umask may have narrowed the mode; 0644 for the public key is meant. */
    if (fchmod(fd, mode) < 0)
        r = -errno;
    while (r == 0 && off < len) {
        ssize_t n = write(fd, text + off, len - off);
        if (n < 0 && errno != EINTR)
            r = -errno;
        else if (n > 0)
            off += (size_t)n;
    }
    if (r == 0 && fsync(fd) < 0)
        r = -errno;
    if (close(fd) < 0 && r == 0)
        r = -errno;
    if (r < 0)
        unlink(path);
    return r;
}

static int s_write(const char *path, const char *pub, const char *sec) {
    char *pub_path = NULL, text[256];
    if (asprintf(&pub_path, "%s.pub", path) < 0) {
        fprintf(stderr, "tp-keygen: out of memory\n");
        return 1;
    }
    snprintf(text, sizeof text, "# touchpointd CURVE secret key (Z85); public key %s\n%s\n", pub,
             sec);
    int r = s_write_new(path, 0600, text);
    explicit_bzero(text, sizeof text);
    if (r < 0) {
        fprintf(stderr, "tp-keygen: cannot create '%s': %s\n", path, strerror(-r));
        free(pub_path);
        return 1;
    }
    snprintf(text, sizeof text, "%s\n", pub);
    r = s_write_new(pub_path, 0644, text);
    if (r < 0) {
        fprintf(stderr, "tp-keygen: cannot create '%s': %s (removing '%s')\n", pub_path,
                strerror(-r), path);
        unlink(path);
        free(pub_path);
        return 1;
    }
    printf("public-key = %s\n", pub);
    free(pub_path);
    return 0;
}

int main(int argc, char **argv) {
    enum { OPT_VERSION = 256 };
    static const struct option longopts[] = {
        { "write", required_argument, NULL, 'w' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, OPT_VERSION },
        { NULL, 0, NULL, 0 },
    };
    const char *path = NULL;
    int         c;
    while ((c = getopt_long(argc, argv, "w:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'w': path = optarg; break;
        case 'h': fputs(s_usage, stdout); return 0;
        case OPT_VERSION: puts("tp-keygen " TP_VERSION); return 0;
        default: fputs("Try 'tp-keygen --help' for more information.\n", stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "tp-keygen: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    char pub[TP_Z85_LEN + 1], sec[TP_Z85_LEN + 1];
    if (zmq_curve_keypair(pub, sec) != 0) {
        fprintf(stderr, "tp-keygen: zmq_curve_keypair: %s (libzmq built without CURVE?)\n",
                zmq_strerror(zmq_errno()));
        return 1;
    }
    int ret = 0;
    if (path)
        ret = s_write(path, pub, sec);
    else
        printf("public-key = %s\nsecret-key = %s\n", pub, sec);
    explicit_bzero(sec, sizeof sec);
    return ret;
}
