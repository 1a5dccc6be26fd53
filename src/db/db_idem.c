/*
 * db_idem: the idempotency_keys table (see db_idem.h).
 */
#include "orgd/db_idem.h"

#include <string.h>

#include "orgd/db.h"

err_t db_idem_claim(const char *org_id, const char *key, const unsigned char hash[DIGEST_LEN],
		    int64_t now, struct arena *a, struct idem_answer *ans)
{
	const struct dbv claim[] = {DB_STR(org_id), DB_STR(key),
				    DB_STRN((const char *)hash, DIGEST_LEN), DB_INT(now)};
	*ans = (struct idem_answer){0};
	/* blocks while another transaction holds the key, until it commits or rolls back */
	err_t err = db_exec(STMT_IDEM_INSERT, claim, 4, NULL);
	if (err != ERR_CONFLICT)
		return err;
	struct db_rows rows;
	err = db_query(STMT_IDEM_GET, DB_ARGS(DB_INT(now - IDEM_TTL), DB_STR(org_id), DB_STR(key)),
		       a, &rows);
	if (err != ERR_OK)
		return err;
	if (rows.n == 0)
		return ERR_RETRY;           /* deleted between the two statements: start over */
	if (DB_CELL(&rows, 0, 3)->i == 0) { /* expired: the key is free again */
		err = db_exec(STMT_IDEM_DELETE, DB_ARGS(DB_STR(org_id), DB_STR(key)), NULL);
		return err != ERR_OK ? err : db_exec(STMT_IDEM_INSERT, claim, 4, NULL);
	}
	const struct dbv *h = DB_CELL(&rows, 0, 0);
	if (h->len != DIGEST_LEN || memcmp(h->s, hash, DIGEST_LEN) != 0)
		return ERR_CONFLICT;
	ans->status = (int)DB_CELL(&rows, 0, 1)->i;
	ans->body = DB_CELL(&rows, 0, 2)->s;
	ans->len = DB_CELL(&rows, 0, 2)->len;
	return ans->status ? ERR_OK : ERR_RETRY;
}

err_t db_idem_store(const char *org_id, const char *key, int status, const char *body, size_t len)
{
	uint64_t n = 0;
	err_t err = db_exec(
		STMT_IDEM_STORE,
		DB_ARGS(DB_INT(status), DB_STRN(body, len), DB_STR(org_id), DB_STR(key)), &n);
	return err == ERR_OK && n != 1 ? ERR_INTERNAL : err; /* the claim must be ours, here */
}
