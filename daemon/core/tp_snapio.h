/* tp_snapio: the byte format engine state is saved in (snapshots).
 *
 * A writer buffers onto a file descriptor: unsigned integers as LEB128
 * varints, signed ones zigzagged, doubles as their 8 IEEE bytes, byte strings
 * length-prefixed. Everything written is covered by a running XXH3-64
 * checksum. Errors are sticky on both sides, so a module writes or reads all
 * its records and checks once: a short or corrupt file reads as -EBADMSG,
 * never as a crash or an over-read.
 *
 * Each module that keeps state owns its section's layout (save/load next to
 * its data); this file only knows bytes. A section starts with a tag and a
 * version (tp_snapw_section / tp_snapr_section) so a reader refuses what it
 * does not understand. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct tp_snapw tp_snapw_t;
typedef struct tp_snapr tp_snapr_t;

/* Writer on fd (not owned; not closed). */
int  tp_snapw_new(int fd, tp_snapw_t **ret);
void tp_snapw_destroy(tp_snapw_t **w);
void tp_snapw_section(tp_snapw_t *w, uint32_t tag, uint32_t version);
void tp_snapw_u64(tp_snapw_t *w, uint64_t v);
void tp_snapw_i64(tp_snapw_t *w, int64_t v);
void tp_snapw_f64(tp_snapw_t *w, double v);
void tp_snapw_bool(tp_snapw_t *w, bool v);
void tp_snapw_bytes(tp_snapw_t *w, const void *p, size_t n);
/* NULL and "" are told apart on reading. */
void tp_snapw_str(tp_snapw_t *w, const char *s);
/* Makes the writer fail with err (-errno) from now on: a save that cannot
 * finish (out of memory) spoils the file rather than write a wrong one. */
void tp_snapw_fail(tp_snapw_t *w, int err);
/* Writes out the buffer: 0, or the first error any write met (-errno).
 * ret_sum (optional): the checksum of every byte written so far. */
int      tp_snapw_flush(tp_snapw_t *w, uint64_t *ret_sum);
uint64_t tp_snapw_size(const tp_snapw_t *w);

/* Reader on fd (not owned), from its current offset; at most limit bytes
 * (0: to the end of the file). */
int  tp_snapr_new(int fd, uint64_t limit, tp_snapr_t **ret);
void tp_snapr_destroy(tp_snapr_t **r);
/* -EPROTO if the next section is not tag, or its version is above max;
 * ret_version: the version written. */
int tp_snapr_section(tp_snapr_t *r, uint32_t tag, uint32_t max_version, uint32_t *ret_version);
int tp_snapr_u64(tp_snapr_t *r, uint64_t *ret);
int tp_snapr_i64(tp_snapr_t *r, int64_t *ret);
int tp_snapr_f64(tp_snapr_t *r, double *ret);
int tp_snapr_bool(tp_snapr_t *r, bool *ret);
/* *ret points into the reader, valid until its next call; at most max bytes
 * (a longer string is -EBADMSG). */
int tp_snapr_bytes(tp_snapr_t *r, size_t max, const void **ret, size_t *ret_len);
/* A malloc'd copy (NUL-terminated), or NULL if NULL was written. */
int tp_snapr_str(tp_snapr_t *r, size_t max, char **ret);
/* A string written by tp_snapw_str into buf (size bytes, NUL-terminated;
 * a longer one is -EBADMSG): 0, or 1 if NULL was written (buf gets ""). */
int tp_snapr_strbuf(tp_snapr_t *r, char *buf, size_t size);
/* The first error met (0 if none), and the checksum of every byte taken from
 * the file so far (with a limit: the whole body once tp_snapr_at_end). */
int      tp_snapr_error(const tp_snapr_t *r);
uint64_t tp_snapr_sum(const tp_snapr_t *r);
/* True once every byte up to the limit has been read. */
bool tp_snapr_at_end(tp_snapr_t *r);

/* Fixed-width little-endian fields, for the headers in front of a body
 * (the body itself is varints), and whole-buffer positional I/O. */
void     tp_snap_le32(unsigned char *p, uint32_t v);
void     tp_snap_le64(unsigned char *p, uint64_t v);
uint64_t tp_snap_get_le(const unsigned char *p, int n);
/* All n bytes at off: 0 or -errno (-EIO when the file ends first). */
int tp_snap_pwrite_all(int fd, const void *buf, size_t n, off_t off);
int tp_snap_pread_all(int fd, void *buf, size_t n, off_t off);

/* A section tag from four characters: TP_SNAP_TAG('C','A','L','L'). */
#define TP_SNAP_TAG(a, b, c, d) \
    ((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | (uint32_t)(d) << 24)
