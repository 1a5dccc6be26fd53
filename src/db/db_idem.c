/*
 * db_idem: the idempotency_keys table (see db_idem.h), claimed and settled
 * inside a db_* write's transaction.
 */
#include "orgd/db_idem.h"

#include <assert.h>
#include <string.h>

#include "dbi.h"

err_t db_idem_claim_in_tx(const char *org_id, struct db_idem *idem, int64_t now, struct arena *a)
{
	assert(db_in_tx());
	idem->replayed = idem->pending = false;
	if (!idem->key)
		return ERR_OK;
	const struct dbv claim[] = {DB_STR(org_id), DB_STR(idem->key),
				    DB_STRN((const char *)idem->hash, DIGEST_LEN), DB_INT(now)};
	/* blocks while another transaction holds the key, until it commits or rolls back */
	err_t err = db_exec(STMT_IDEM_INSERT, claim, 4, NULL);
	if (err != ERR_CONFLICT)
		return err;
	struct db_rows rows;
	err = db_query(STMT_IDEM_GET,
		       DB_ARGS(DB_INT(now - IDEM_TTL), DB_STR(org_id), DB_STR(idem->key)), a,
		       &rows);
	if (err != ERR_OK)
		return err;
	if (rows.n == 0)
		return ERR_RETRY;           /* deleted between the two statements: start over */
	if (DB_CELL(&rows, 0, 3)->i == 0) { /* expired: the key is free again */
		err = db_exec(STMT_IDEM_DELETE, DB_ARGS(DB_STR(org_id), DB_STR(idem->key)), NULL);
		return err != ERR_OK ? err : db_exec(STMT_IDEM_INSERT, claim, 4, NULL);
	}
	const struct dbv *h = DB_CELL(&rows, 0, 0);
	if (h->len != DIGEST_LEN || memcmp(h->s, idem->hash, DIGEST_LEN) != 0)
		return ERR_CONFLICT;
	int status = (int)DB_CELL(&rows, 0, 1)->i;
	if (!status) { /* claimed, and committed without an answer: its request ended early */
		idem->pending = true;
		return ERR_OK;
	}
	const struct dbv *body = DB_CELL(&rows, 0, 2);
	buf_clear(idem->out);
	buf_put(idem->out, body->s, body->len);
	idem->status = status;
	idem->replayed = true;
	return idem->out->oom ? ERR_INTERNAL : ERR_OK;
}

err_t db_idem_settle_in_tx(const char *org_id, struct db_idem *idem, err_t outcome)
{
	assert(db_in_tx());
	if (!idem->key || (outcome != ERR_OK && !err_is_client(outcome)))
		return outcome;
	idem->status = idem->render(idem->ctx, outcome);
	if (idem->out->oom)
		return ERR_INTERNAL;
	uint64_t n = 0;
	err_t err = db_exec(STMT_IDEM_STORE,
			    DB_ARGS(DB_INT(idem->status),
				    DB_STRN(idem->out->p ? idem->out->p : "", idem->out->len),
				    DB_STR(org_id), DB_STR(idem->key)),
			    &n);
	if (err != ERR_OK || n == 1)
		return err;
	/*
	 * Answered already: a repeat of the key ran while this request was at the
	 * provider (its named lock went with a lost connection). The first answer
	 * stays, and is this request's too.
	 */
	struct arena a = {0};
	struct db_rows rows;
	err = db_query(STMT_IDEM_ANSWER, DB_ARGS(DB_STR(org_id), DB_STR(idem->key)), &a, &rows);
	if (err == ERR_OK && (rows.n != 1 || DB_CELL(&rows, 0, 0)->i == 0))
		err = ERR_INTERNAL; /* the claim must be there, answered */
	if (err == ERR_OK) {
		const struct dbv *body = DB_CELL(&rows, 0, 1);
		idem->status = (int)DB_CELL(&rows, 0, 0)->i;
		idem->replayed = true;
		buf_clear(idem->out);
		buf_put(idem->out, body->s, body->len);
		err = idem->out->oom ? ERR_INTERNAL : ERR_OK;
	}
	arena_free(&a);
	return err;
}
