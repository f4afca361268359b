/* tp_curve_key — CURVE key files and client-side socket options, shared
 * by touchpointd (its own key, the allow-lists) and the tools (tp-pub,
 * tp-tail, tp-keygen).
 *
 * A secret key file holds the Z85 secret key on its first line that is
 * neither blank nor a '#' comment; the public key is derived from it with
 * zmq_curve_public(). Keys are only ever handled by libzmq's own functions
 * (zmq_curve_keypair, zmq_curve_public, zmq_z85_encode/decode).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TP_Z85_LEN     40   /* a 32-byte key in Z85 */
#define TP_KEYFILE_MAX 4096 /* larger "key files" are refused */

/* Parses one text line holding a Z85 key (surrounding blanks allowed) into
 * the 32 raw bytes. 0; 1 the line is blank or a '#' comment; -EINVAL.
 * A line that decodes as a whole key is a key, whatever its first digit. */
int tp_curve_key_parse_line(const char *line, uint8_t ret_key[32]);

/* Reads a secret key file. Refuses (-EPERM) a file that others may read
 * or write (mode & 007), as ssh does with private keys; group-readable is
 * fine (root:touchpointd 0640). 0, -EPERM, -EBADMSG (no valid key line),
 * -EFBIG, or -errno from open/read. ret_public and ret_secret get the Z85
 * keys, NUL-terminated, only on success. */
int tp_curve_key_read(const char *path, char ret_public[TP_Z85_LEN + 1],
                      char ret_secret[TP_Z85_LEN + 1]);

/* tp_curve_key_read for the daemon's own key file (config key `key`), the
 * one check at start and in --check-config: on failure `why` (may be NULL)
 * gets the reason as one line naming the key and the file. */
int tp_curve_key_load(const char *key, const char *path, char ret_public[TP_Z85_LEN + 1],
                      char ret_secret[TP_Z85_LEN + 1], char *why, size_t whylen);

/* Called with each key of an allow-list; a negative errno stops the read
 * and is returned. */
typedef int (*tp_curve_key_fn)(void *arg, const uint8_t key[32]);

/* Reads an allow-list file (one Z85 public key per line; blank lines and
 * '#' comments allowed), calling fn (may be NULL: only check the file) for
 * each key in order. The one reading of curve_clients files: the ZAP
 * handler loads them with it, --check-config checks them with it. 0;
 * -EBADMSG a line is not a key (its 1-based number in *ret_bad_line);
 * what fn returned; -errno from reading. */
int tp_curve_allow_list_read(const char *path, tp_curve_key_fn fn, void *arg,
                             unsigned *ret_bad_line);

/* A tool's CURVE client identity: the server's public key and our keypair. */
typedef struct {
    bool on;                     /* false: plain, nothing is set */
    char server[TP_Z85_LEN + 1]; /* the daemon's public key */
    char public_key[TP_Z85_LEN + 1];
    char secret_key[TP_Z85_LEN + 1];
} tp_curve_client_t;

/* From the --curve-server-key and --curve-secret-key-file options: both
 * NULL gives a plain client; one without the other, a bad key or an
 * unreadable file is an error described in err (no trailing newline).
 * 0 or -EINVAL. */
int tp_curve_client_init(const char *server_key, const char *secret_file, tp_curve_client_t *ret,
                         char *err, size_t errlen);

/* Makes `sock` (not yet connected) a CURVE client of c->server. Does
 * nothing when c->on is false. 0 or -errno from zmq_setsockopt. */
int tp_curve_client_apply(const tp_curve_client_t *c, void *sock);
