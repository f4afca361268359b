/* tp_cli — small helpers shared by the command-line adapters (tp-pub,
 * tp-tail) and the daemon: strict parsing of option values, and reading
 * the small secret files a config names (bearer tokens; CURVE keys use the
 * same checks through tp_curve_key.h). */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Strict decimal for option values: digits only (no sign, no junk), no
 * overflow. 0, -EINVAL or -ERANGE; *ret written only on success. */
int tp_cli_parse_u64(const char *s, uint64_t *ret);

/* Duration option values as the config writes them: a decimal number and a
 * unit, "250ms", "90s", "5m", "2h", "1d". 0 and the milliseconds in *ret_ms;
 * -EINVAL (no unit, junk, zero) or -ERANGE; *ret_ms written only on success. */
int tp_cli_parse_duration_ms(const char *s, uint64_t *ret_ms);

/* Reads a small secret file (a CURVE secret key, a bearer token) into buf
 * as a NUL-terminated string, refusing it, as ssh does a private key, if
 * others may read or write it. The length, or -EPERM (mode & 007), -EFBIG
 * (size - 1 bytes or more), another negative errno. */
ssize_t tp_read_private_file(const char *path, char *buf, size_t size);

#define TP_TOKEN_MAX      1024 /* longest bearer token */
#define TP_TOKEN_FILE_MAX 4096 /* larger "token files" are refused */

/* One line, for logs and --check-config, saying why the secret file `path`
 * that config key `key` names was refused with r (as tp_read_private_file
 * and the readers built on it return it): others may read it (-EPERM), it
 * holds no `what` (-EBADMSG), it is too large (-EFBIG), or strerror. */
void tp_secret_file_why(int r, const char *key, const char *path, const char *what, char *why,
                        size_t whylen);

/* Reads a bearer token file, the one check of every token file (ingest,
 * dashboard) at start, on reload and in --check-config: the first line that
 * is neither blank nor a '#' comment, without surrounding blanks, at most
 * TP_TOKEN_MAX printable ASCII characters, in a file others may not read or
 * write. A NULL path stores NULL (no token). 0, -EPERM, -EBADMSG (no token:
 * an empty file too), -EFBIG, or -errno from open/read; on failure `why`
 * (may be NULL) gets the reason, naming `key` and the file. *ret_token
 * (malloc'd; the caller wipes and frees it) is written only on success. */
int tp_token_file_read(const char *key, const char *path, char **ret_token, char *why,
                       size_t whylen);
