/* tp_csv — CSV records from a stream, with the physical line each starts on.
 *
 * Parsing is libcsv's (RFC 4180: quoted cells may hold the delimiter, "" and
 * line breaks); this file feeds it one physical line at a time so that every
 * record knows the line it starts on, also after quoted multi-line cells.
 * Blank lines are skipped, a UTF-8 byte-order mark before the first record is
 * dropped. Used by tp_input (tp-pub --map) for CSV exports.
 */
#pragma once

#include <stddef.h>
#include <stdio.h>

typedef struct tp_csv tp_csv_t;

/* A reader of `in` (not owned, not closed) with `delim` between cells.
 * Records over max_bytes (cells together) or with more than max_cells cells
 * are bad records (reported, skipped). 0 and *ret, or -ENOMEM. */
int tp_csv_new(FILE *in, char delim, size_t max_bytes, size_t max_cells, tp_csv_t **ret);

/* The next record: 1 with *ret_cells (n NUL-terminated cells, valid until
 * the next call), *ret_n and *ret_line (its first physical line, 1-based);
 * 0 at the end of the input; -EINVAL for a bad record (a reason in err,
 * *ret_line set; reading may go on); -EIO (errno-style, from the stream) or
 * -ENOMEM, after which it must not be called again. */
int tp_csv_next(tp_csv_t *c, char ***ret_cells, size_t *ret_n, size_t *ret_line, char *err,
                size_t errlen);

/* Frees the reader and NULLs *p; accepts NULL. */
void tp_csv_destroy(tp_csv_t **p);
