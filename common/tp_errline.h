/* tp_errline — one-line error messages about a file's content.
 *
 * The YAML config, tp-pub's mappings and the rows they map all report
 * "FILE:LINE: reason" into a caller's buffer, and the reason often quotes
 * what the file holds. A newline or escape in that text must not split
 * the message or reach a terminal, so every control character becomes '?'.
 */
#pragma once

#include <stdarg.h>
#include <stddef.h>

/* Writes "file:line: message" (line >= 0), "file: message" (line < 0) or
 * just the message (file NULL) into err, cut to errlen, then replaces each
 * control character of it (below 0x20, and 0x7f) with '?'. Does nothing
 * when err is NULL or errlen 0. */
void tp_errline_vformat(char *err, size_t errlen, const char *file, long line, const char *fmt,
                        va_list ap) __attribute__((format(printf, 5, 0)));
