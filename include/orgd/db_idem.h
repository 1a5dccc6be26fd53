/*
 * db_idem: Idempotency-Key storage (API.md "Conventions"), as a step of the
 * db_* writes that take a key (db_run_record, the purchases): the write's
 * own transaction claims the key after its organization's row lock, and
 * stores the answer in the same transaction, so a concurrent repeat waits
 * on the key's row, then finds the answer and replays it. Keys live 24 hours.
 */
#ifndef ORGD_DB_IDEM_H
#define ORGD_DB_IDEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "orgd/digest.h"
#include "orgd/error.h"
#include "orgd/mem.h"

#define IDEM_TTL (24 * 3600)

/* What a keyed write needs of its caller, and what it tells back. */
struct db_idem {
	const char *key;                /* NULL: the request has no key */
	unsigned char hash[DIGEST_LEN]; /* the request's digest: another request is 409 */
	/*
	 * Render the answer of the write's outcome (ERR_OK or a client error)
	 * into *out and return its HTTP status. Called inside the transaction,
	 * perhaps again when it is retried: it starts from an empty out.
	 */
	int (*render)(void *ctx, err_t outcome);
	void *ctx;
	struct buf *out;
	/* set by the write, on ERR_OK with a key: the answer (fresh or replayed) is in *out */
	int status;
	bool replayed;
	bool pending; /* the key was claimed by a request that ended before its answer */
};

#endif
