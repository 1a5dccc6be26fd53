/*
 * db_idem: Idempotency-Key storage (API.md, "Conventions"). A key is claimed
 * inside the transaction of the effect it guards, and the answer is stored
 * in the same transaction: a concurrent repeat waits on the key's row lock,
 * then finds the stored answer. Keys live 24 hours.
 */
#ifndef ORGD_DB_IDEM_H
#define ORGD_DB_IDEM_H

#include <stddef.h>
#include <stdint.h>

#include "orgd/digest.h"
#include "orgd/error.h"
#include "orgd/mem.h"

#define IDEM_TTL (24 * 3600)

/* A stored answer to replay. */
struct idem_answer {
	int status; /* 0: the key was free and is now claimed by this transaction */
	const char *body;
	size_t len;
};

/*
 * Claim key for org_id with the request's digest. On ERR_OK, ans->status is 0
 * (claimed: run the effect, then db_idem_store()) or the stored answer to
 * replay. ERR_CONFLICT: the key was used with another request.
 */
err_t db_idem_claim(const char *org_id, const char *key, const unsigned char hash[DIGEST_LEN],
		    int64_t now, struct arena *a, struct idem_answer *ans);
/* Store the answer of a claimed key. */
err_t db_idem_store(const char *org_id, const char *key, int status, const char *body, size_t len);

#endif
