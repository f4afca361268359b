/* tp_intern — one shared, reference-counted copy of each repeated string.
 *
 * A million open calls name a few thousand reps, territories, accounts and
 * HCPs: keeping one copy of each instead of one per call is what keeps a
 * call record small (bytes per open call). Strings are immutable once
 * interned; the pointer is the handle. The reference count doubles as a
 * per-string counter: tp_cases counts open cases per HCP with it.
 */
#pragma once

#include <stddef.h>

typedef struct tp_intern tp_intern_t;

/* An empty table into *ret. 0 or -ENOMEM. */
int tp_intern_new(tp_intern_t **ret);

/* The shared copy of `s` ("" for NULL), one more reference to it; NULL on
 * ENOMEM. */
const char *tp_intern_get(tp_intern_t *in, const char *s);

/* n more references to `s`, a string tp_intern_get returned: a snapshot's
 * string table interns each string once, its records name them by index,
 * and the references they hold are added once per string, not looked up
 * (or even touched) per record. */
void tp_intern_ref(const char *s, size_t n);

/* Drops one reference to a string tp_intern_get returned (NULL is a
 * no-op); the copy goes with its last reference. */
void tp_intern_put(tp_intern_t *in, const char *s);

/* References held to `s` ("" for NULL); 0 if it is not interned. */
size_t tp_intern_refs(const tp_intern_t *in, const char *s);

/* Distinct strings held. */
size_t tp_intern_count(const tp_intern_t *in);

/* Frees the table and every string in it; accepts NULL; sets *p to NULL. */
void tp_intern_destroy(tp_intern_t **p);
