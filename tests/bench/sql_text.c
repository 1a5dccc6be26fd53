/*
 * sql_text: prints every statement of src/db/sql.c as "<index>\t<text>" lines, for
 * scripts/bench-cron's EXPLAINs (tests/bench/cron.py maps the indexes to enum stmt's
 * names by reading src/db/db_stmts.h). Built by cron.py itself:
 *   cc -Isrc/db -o sql-text tests/bench/sql_text.c src/db/sql.c
 */
#include <stdio.h>

#include "sql.h"

int main(void)
{
	for (int i = 0; i < STMT__MAX; i++)
		printf("%d\t%s\n", i, sql_text[i] ? sql_text[i] : "");
	return 0;
}
