/*
 * id: random public ids (see id.h).
 */
#include "orgd/id.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";

void id_new(char *out, const char *prefix)
{
	unsigned char rnd[20];
	size_t got = 0;
	while (got < sizeof rnd) {
		ssize_t n = getrandom(rnd + got, sizeof rnd - got, 0);
		if (n < 0)
			abort(); /* the kernel's random source failing is not survivable */
		got += (size_t)n;
	}
	size_t p = strlen(prefix);
	memcpy(out, prefix, p);
	out[p++] = '_';
	for (size_t i = 0; i < sizeof rnd; i++)
		out[p++] = alphabet[rnd[i] & 31];
	out[p] = '\0';
}

bool id_valid(const char *s, size_t len)
{
	if (len < 3 || len > ID_LEN_MAX)
		return false;
	const char *us = memchr(s, '_', len);
	if (!us || us == s)
		return false;
	for (const char *c = s; c < us; c++)
		if (*c < 'a' || *c > 'z')
			return false;
	for (const char *c = us + 1; c < s + len; c++)
		if (!strchr(alphabet, *c) || !*c)
			return false;
	return us + 1 < s + len;
}
