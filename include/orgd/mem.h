/*
 * mem: the two memory shapes orgd uses.
 *
 * struct arena: per-request bump memory. Everything a request allocates hangs
 * off its arena and is released at once by arena_reset() at the request's end.
 * struct buf: a growable byte string (response bodies, SQL-free text).
 * Both own their storage; both record an allocation failure instead of
 * returning it at every call (check arena->oom / buf->oom once at the end).
 */
#ifndef ORGD_MEM_H
#define ORGD_MEM_H

#include <stdbool.h>
#include <stddef.h>

struct arena_chunk;

struct arena {
	struct arena_chunk *head;
	bool oom;
};

/* n bytes, 16-aligned, zeroed; NULL (and a->oom set) on failure. */
void *arena_alloc(struct arena *a, size_t n);
/* A NUL-terminated copy of s[0..n) in a; NULL on failure. */
char *arena_strndup(struct arena *a, const char *s, size_t n);
/* printf into arena memory; NULL on failure. */
char *arena_printf(struct arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Release everything but the first chunk, which is kept for reuse. */
void arena_reset(struct arena *a);
/* Release everything. */
void arena_free(struct arena *a);

struct buf {
	char *p;
	size_t len, cap;
	bool oom;
};

void buf_put(struct buf *b, const void *p, size_t n);
void buf_puts(struct buf *b, const char *s);
void buf_putc(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Empty b, keeping its storage. */
void buf_clear(struct buf *b);
void buf_free(struct buf *b);

#endif
