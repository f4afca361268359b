/* tp_snapio: what is written reads back the same, and a short, corrupt or
 * foreign file reads as an error, never past its end. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tp_testutil.h"

#include "tp_snapio.h"

#define TAG TP_SNAP_TAG('T', 'E', 'S', 'T')

static FILE *s_written(uint64_t *ret_sum, uint64_t *ret_size) {
    FILE *f = tmpfile();
    assert_non_null(f);
    tp_snapw_t *w = NULL;
    assert_int_equal(tp_snapw_new(fileno(f), &w), 0);
    tp_snapw_section(w, TAG, 2);
    uint64_t u[] = { 0, 1, 127, 128, 300, UINT32_MAX, UINT64_MAX };
    for (size_t i = 0; i < sizeof u / sizeof u[0]; i++)
        tp_snapw_u64(w, u[i]);
    tp_snapw_i64(w, INT64_MIN);
    tp_snapw_i64(w, -1);
    tp_snapw_i64(w, INT64_MAX);
    tp_snapw_f64(w, -2.5e-300);
    tp_snapw_bool(w, true);
    tp_snapw_str(w, NULL);
    tp_snapw_str(w, "");
    tp_snapw_str(w, "HCP-0001");
    /* Longer than the 64 KiB buffer: read through the scratch copy. */
    char *big = malloc(200000);
    assert_non_null(big);
    for (size_t i = 0; i < 199999; i++)
        big[i] = (char)('a' + i % 26);
    big[199999] = '\0';
    tp_snapw_str(w, big);
    tp_snapw_bytes(w, "\0\1\2", 3);
    free(big);
    assert_int_equal(tp_snapw_flush(w, ret_sum), 0);
    *ret_size = tp_snapw_size(w);
    tp_snapw_destroy(&w);
    assert_null(w);
    rewind(f);
    return f;
}

static void test_round_trip(void **state) {
    (void)state;
    uint64_t sum, size;
    FILE    *f = s_written(&sum, &size);
    assert_int_equal((uint64_t)lseek(fileno(f), 0, SEEK_END), size);
    lseek(fileno(f), 0, SEEK_SET);

    tp_snapr_t *r = NULL;
    assert_int_equal(tp_snapr_new(fileno(f), size, &r), 0);
    uint32_t version = 0;
    assert_int_equal(tp_snapr_section(r, TAG, 3, &version), 0);
    assert_int_equal(version, 2);
    uint64_t want[] = { 0, 1, 127, 128, 300, UINT32_MAX, UINT64_MAX };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        uint64_t v = 42;
        assert_int_equal(tp_snapr_u64(r, &v), 0);
        assert_true(v == want[i]);
    }
    int64_t i64;
    assert_int_equal(tp_snapr_i64(r, &i64), 0);
    assert_true(i64 == INT64_MIN);
    assert_int_equal(tp_snapr_i64(r, &i64), 0);
    assert_true(i64 == -1);
    assert_int_equal(tp_snapr_i64(r, &i64), 0);
    assert_true(i64 == INT64_MAX);
    double d;
    assert_int_equal(tp_snapr_f64(r, &d), 0);
    assert_true(d == -2.5e-300);
    bool b = false;
    assert_int_equal(tp_snapr_bool(r, &b), 0);
    assert_true(b);
    char *s = (char *)"x";
    assert_int_equal(tp_snapr_str(r, 100, &s), 0);
    assert_null(s);
    assert_int_equal(tp_snapr_str(r, 100, &s), 0);
    assert_string_equal(s, "");
    free(s);
    assert_int_equal(tp_snapr_str(r, 100, &s), 0);
    assert_string_equal(s, "HCP-0001");
    free(s);
    assert_int_equal(tp_snapr_str(r, 300000, &s), 0);
    assert_int_equal(strlen(s), 199999);
    assert_int_equal(s[199998], 'a' + 199998 % 26);
    free(s);
    const void *p;
    size_t      n;
    assert_int_equal(tp_snapr_bytes(r, 16, &p, &n), 0);
    assert_int_equal(n, 3);
    assert_memory_equal(p, "\0\1\2", 3);
    assert_true(tp_snapr_at_end(r));
    assert_int_equal(tp_snapr_error(r), 0);
    assert_true(tp_snapr_sum(r) == sum);
    tp_snapr_destroy(&r);
    fclose(f);
}

/* Reads back everything s_written wrote; the reader's sticky error. */
static int s_read_all(tp_snapr_t *r) {
    uint64_t    u;
    int64_t     i;
    double      d;
    bool        b;
    const void *p;
    size_t      n;
    tp_snapr_section(r, TAG, 2, NULL);
    for (int k = 0; k < 7; k++)
        tp_snapr_u64(r, &u);
    for (int k = 0; k < 3; k++)
        tp_snapr_i64(r, &i);
    tp_snapr_f64(r, &d);
    tp_snapr_bool(r, &b);
    for (int k = 0; k < 4; k++) {
        char *s = NULL;
        tp_snapr_str(r, 300000, &s);
        free(s);
    }
    tp_snapr_bytes(r, 16, &p, &n);
    return tp_snapr_error(r);
}

/* Every truncation of the file is an error by the last field, never a read
 * past the end; a changed byte changes the checksum. */
static void test_truncated_and_corrupt(void **state) {
    (void)state;
    uint64_t sum, size;
    FILE    *f = s_written(&sum, &size);
    for (uint64_t cut = 1; cut < size; cut += cut < 64 ? 1 : 4099) {
        lseek(fileno(f), 0, SEEK_SET);
        tp_snapr_t *r = NULL;
        assert_int_equal(tp_snapr_new(fileno(f), cut, &r), 0);
        assert_int_equal(s_read_all(r), -EBADMSG);
        tp_snapr_destroy(&r);
    }
    lseek(fileno(f), 0, SEEK_SET);
    tp_snapr_t *r = NULL;
    assert_int_equal(tp_snapr_new(fileno(f), size, &r), 0);
    assert_int_equal(s_read_all(r), 0);
    assert_true(tp_snapr_at_end(r) && tp_snapr_sum(r) == sum);
    tp_snapr_destroy(&r);

    /* A byte changed inside the long string: same length, another sum. */
    unsigned char c;
    assert_int_equal(pread(fileno(f), &c, 1, (off_t)size / 2), 1);
    c ^= 0x20;
    assert_int_equal(pwrite(fileno(f), &c, 1, (off_t)size / 2), 1);
    lseek(fileno(f), 0, SEEK_SET);
    assert_int_equal(tp_snapr_new(fileno(f), size, &r), 0);
    assert_int_equal(s_read_all(r), 0);
    assert_true(tp_snapr_at_end(r) && tp_snapr_sum(r) != sum);
    tp_snapr_destroy(&r);
    fclose(f);
}

/* A section of another kind, or of a version this reader does not know. */
static void test_foreign_section(void **state) {
    (void)state;
    uint64_t    sum, size;
    FILE       *f = s_written(&sum, &size);
    tp_snapr_t *r = NULL;
    assert_int_equal(tp_snapr_new(fileno(f), 0, &r), 0);
    assert_int_equal(tp_snapr_section(r, TP_SNAP_TAG('C', 'A', 'L', 'L'), 9, NULL), -EPROTO);
    uint64_t u;
    assert_int_equal(tp_snapr_u64(r, &u), -EPROTO); /* sticky */
    tp_snapr_destroy(&r);
    lseek(fileno(f), 0, SEEK_SET);
    assert_int_equal(tp_snapr_new(fileno(f), 0, &r), 0);
    assert_int_equal(tp_snapr_section(r, TAG, 1, NULL), -EPROTO);
    tp_snapr_destroy(&r);
    fclose(f);
}

/* Eleven continuation bytes are not a 64-bit number. */
static void test_overlong_varint(void **state) {
    (void)state;
    FILE *f = tmpfile();
    assert_non_null(f);
    unsigned char b[12];
    memset(b, 0xff, sizeof b);
    assert_int_equal(write(fileno(f), b, sizeof b), (ssize_t)sizeof b);
    rewind(f);
    tp_snapr_t *r = NULL;
    assert_int_equal(tp_snapr_new(fileno(f), 0, &r), 0);
    uint64_t u;
    assert_int_equal(tp_snapr_u64(r, &u), -EBADMSG);
    tp_snapr_destroy(&r);
    fclose(f);
}

TP_TEST_MAIN(cmocka_unit_test(test_round_trip), cmocka_unit_test(test_truncated_and_corrupt),
             cmocka_unit_test(test_foreign_section), cmocka_unit_test(test_overlong_varint))
