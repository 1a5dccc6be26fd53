/*
 * hashgate: at most a bounded number of password hashes at once across all
 * the workers of a host (API.md "Sessions"): beyond it sign-up and sign-in
 * answer 503 at once, so a flood of sign-ins never queues other requests
 * behind scrypt. Owns a small shared page the master maps before forking: a
 * counter, and one flag per worker slot so that the master takes back the
 * place of a worker that died while hashing.
 */
#ifndef ORGD_HASHGATE_H
#define ORGD_HASHGATE_H

#include <stdbool.h>

/* In the master, before any fork: room for slots workers, limit hashes at once. 0 or -1. */
int hashgate_init(int slots, int limit);
/* In a worker: which slot it is. */
void hashgate_worker(int slot);
/* Take a place (true), or find them all taken (false: answer 503). */
bool hashgate_enter(void);
/* Give the place back. */
void hashgate_leave(void);
/* In the master: worker slot died; give back a place it held. */
void hashgate_reap(int slot);

#endif
