/*
 * id: opaque public ids: a short prefix naming the kind ("usr", "org", ...),
 * an underscore and 20 random base32 characters (100 bits from getrandom).
 */
#ifndef ORGD_ID_H
#define ORGD_ID_H

#include <stdbool.h>
#include <stddef.h>

#define ID_LEN_MAX 32

/* Write a fresh id with prefix into out (at least ID_LEN_MAX + 1 bytes). */
void id_new(char *out, const char *prefix);

/* Is s[0..len) shaped like an id of ours (prefix, '_', base32)? Cheap pre-check before SQL. */
bool id_valid(const char *s, size_t len);

#endif
