/*
 * sql: the table of SQL text behind enum stmt (private to src/db/).
 */
#ifndef ORGD_SQL_H
#define ORGD_SQL_H

#include "db_stmts.h"

extern const char *const sql_text[STMT__MAX];

#endif
