/* tp_cli — small helpers shared by the command-line adapters (tp-pub,
 * tp-tail): strict parsing of option values. */
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
