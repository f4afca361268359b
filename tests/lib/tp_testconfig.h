/* tp_testconfig — what the config tests share: parse YAML text and expect
 * success, or expect the one "t.yaml:<line>: ..." error line. */
#pragma once

#include <stdint.h>

#include "tp_config.h"

#define TP_TEST_HOUR ((int64_t)3600000)
#define TP_TEST_DAY  (24 * TP_TEST_HOUR)

/* The error line of the last parse (tp_config_parse's err buffer). */
extern char tp_test_config_err[512];

/* Parses `yaml` as "t.yaml"; fails the test (cmocka) with the error if it
 * is refused. The caller frees the config. */
tp_config_t *tp_test_parse_ok(const char *yaml);

/* Parses `yaml`, expects -EINVAL, an error starting "t.yaml:<line>: "
 * containing `needle` on one line, and *ret left alone. */
void tp_test_parse_fails(const char *yaml, unsigned line, const char *needle);
