/* tp_errline — see tp_errline.h. */
#include "tp_errline.h"

#include <stdio.h>

void tp_errline_vformat(char *err, size_t errlen, const char *file, long line, const char *fmt,
                        va_list ap) {
    if (!err || errlen == 0)
        return;
    int at = !file      ? 0
             : line < 0 ? snprintf(err, errlen, "%s: ", file)
                        : snprintf(err, errlen, "%s:%ld: ", file, line);
    if (at >= 0 && (size_t)at < errlen)
        vsnprintf(err + at, errlen - (size_t)at, fmt, ap);
    for (char *p = err; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
}
