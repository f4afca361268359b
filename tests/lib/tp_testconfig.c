/* tp_testconfig — see tp_testconfig.h. */
#include "tp_testconfig.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

char tp_test_config_err[512];

tp_config_t *tp_test_parse_ok(const char *yaml) {
    tp_config_t *c = NULL;
    int          r = tp_config_parse(yaml, strlen(yaml), "t.yaml", tp_test_config_err,
                                     sizeof tp_test_config_err, &c);
    if (r != 0)
        fail_msg("unexpected error %d: %s", r, tp_test_config_err);
    assert_non_null(c);
    return c;
}

void tp_test_parse_fails(const char *yaml, unsigned line, const char *needle) {
    tp_config_t *sentinel = (tp_config_t *)&tp_test_config_err, *c = sentinel;
    char         prefix[32];
    int          r = tp_config_parse(yaml, strlen(yaml), "t.yaml", tp_test_config_err,
                                     sizeof tp_test_config_err, &c);
    assert_int_equal(r, -EINVAL);
    assert_ptr_equal(c, sentinel);
    snprintf(prefix, sizeof prefix, "t.yaml:%u: ", line);
    if (strncmp(tp_test_config_err, prefix, strlen(prefix)) || !strstr(tp_test_config_err, needle))
        fail_msg("yaml:\n%s\nwant \"%s...%s\", got \"%s\"", yaml, prefix, needle,
                 tp_test_config_err);
    assert_null(strchr(tp_test_config_err, '\n'));
}
