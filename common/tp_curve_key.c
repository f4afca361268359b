/* tp_curve_key — see tp_curve_key.h. */
#include "tp_curve_key.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "tp_cli.h"

int tp_curve_key_parse_line(const char *line, uint8_t ret_key[32]) {
    size_t len = strlen(line);
    while (*line == ' ' || *line == '\t')
        line++, len--;
    while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t' || line[len - 1] == '\n' ||
                       line[len - 1] == '\r'))
        len--;
    if (len == 0)
        return 1;
    /* '#' is also a Z85 digit (though it cannot begin a 32-bit group):
     * a line that decodes as a whole key is a key, anything else starting
     * with '#' a comment. */
    if (len == TP_Z85_LEN) {
        char z85[TP_Z85_LEN + 1];
        memcpy(z85, line, TP_Z85_LEN);
        z85[TP_Z85_LEN] = '\0';
        if (zmq_z85_decode(ret_key, z85))
            return 0;
    }
    return *line == '#' ? 1 : -EINVAL;
}

int tp_curve_key_read(const char *path, char ret_public[TP_Z85_LEN + 1],
                      char ret_secret[TP_Z85_LEN + 1]) {
    char    buf[TP_KEYFILE_MAX + 1];
    ssize_t n = tp_read_private_file(path, buf, sizeof buf);
    if (n < 0)
        return (int)n;
    uint8_t key[32];
    int     r = -EBADMSG;
    for (char *save = NULL, *line = strtok_r(buf, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        int p = tp_curve_key_parse_line(line, key);
        if (p == 1)
            continue;
        r = p == 0 ? 0 : -EBADMSG;
        break;
    }
    char secret[TP_Z85_LEN + 1], pub[TP_Z85_LEN + 1];
    if (r == 0 && (!zmq_z85_encode(secret, key, 32) || zmq_curve_public(pub, secret) != 0))
        r = -EBADMSG;
    if (r == 0) {
        memcpy(ret_public, pub, sizeof pub);
        memcpy(ret_secret, secret, sizeof secret);
    }
    /* The secret does not linger on the stack longer than needed. */
    explicit_bzero(buf, sizeof buf);
    explicit_bzero(secret, sizeof secret);
    explicit_bzero(key, sizeof key);
    return r;
}

int tp_curve_allow_list_read(const char *path, tp_curve_key_fn fn, void *arg,
                             unsigned *ret_bad_line) {
    FILE *f = fopen(path, "re");
    if (!f)
        return -errno;
    size_t   cap = 0;
    unsigned lineno = 0;
    char    *line = NULL;
    int      r = 0;
    errno = 0;
    while (r == 0 && getline(&line, &cap, f) >= 0) {
        uint8_t key[32];
        lineno++;
        int p = tp_curve_key_parse_line(line, key);
        if (p == 1)
            continue;
        if (p < 0) {
            *ret_bad_line = lineno;
            r = -EBADMSG;
        } else if (fn) {
            r = fn(arg, key);
        }
    }
    if (r == 0 && ferror(f))
        r = errno ? -errno : -EIO;
    free(line);
    fclose(f);
    return r;
}

int tp_curve_key_load(const char *key, const char *path, char ret_public[TP_Z85_LEN + 1],
                      char ret_secret[TP_Z85_LEN + 1], char *why, size_t whylen) {
    int r = tp_curve_key_read(path, ret_public, ret_secret);
    if (r < 0)
        tp_secret_file_why(r, key, path, "Z85 secret key (write one with tp-keygen --write)", why,
                           whylen);
    return r;
}

int tp_curve_client_init(const char *server_key, const char *secret_file, tp_curve_client_t *ret,
                         char *err, size_t errlen) {
    tp_curve_client_t c = { 0 };
    uint8_t           raw[32];
    if (!server_key && !secret_file) {
        *ret = c;
        return 0;
    }
    if (!server_key || !secret_file) {
        snprintf(err, errlen, "--curve-server-key and --curve-secret-key-file go together");
        return -EINVAL;
    }
    if (tp_curve_key_parse_line(server_key, raw) != 0) {
        snprintf(err, errlen, "invalid --curve-server-key '%s' (expected %d Z85 characters)",
                 server_key, TP_Z85_LEN);
        return -EINVAL;
    }
    int r = tp_curve_key_read(secret_file, c.public_key, c.secret_key);
    if (r == -EPERM) {
        snprintf(err, errlen, "'%s' is readable or writable by others; chmod o-rwx it",
                 secret_file);
        return -EINVAL;
    }
    if (r < 0) {
        snprintf(err, errlen, "cannot read the secret key '%s': %s", secret_file,
                 r == -EBADMSG ? "no Z85 secret key in it" : strerror(-r));
        return -EINVAL;
    }
    snprintf(c.server, sizeof c.server, "%.*s", TP_Z85_LEN, server_key + strspn(server_key, " \t"));
    c.on = true;
    *ret = c;
    return 0;
}

int tp_curve_client_apply(const tp_curve_client_t *c, void *sock) {
    if (!c || !c->on)
        return 0;
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, c->server, TP_Z85_LEN) < 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, c->public_key, TP_Z85_LEN) < 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, c->secret_key, TP_Z85_LEN) < 0)
        return -zmq_errno();
    return 0;
}
