/*
 * t: the unit tests' few macros. A test file defines its cases with TEST(),
 * lists them in main() with RUN(), and ends with T_DONE(). Each case prints
 * "PASS name" or "FAIL name: file:line: expr"; scripts/test counts the lines.
 */
#ifndef ORGD_T_H
#define ORGD_T_H

#include <stdio.h>
#include <string.h>

static int t_failed_case;
static int t_fails;

#define TEST(name) static void name(void)
#define CHECK(expr)                                                                                \
	do {                                                                                       \
		if (!(expr)) {                                                                     \
			if (!t_failed_case)                                                        \
				printf("FAIL %s: %s:%d: %s\n", t_case, __FILE__, __LINE__, #expr); \
			t_failed_case = 1;                                                         \
		}                                                                                  \
	} while (0)
#define CHECK_EQ_STR(a, b) CHECK(strcmp((a), (b)) == 0)

static const char *t_case;
#define RUN(name)                                                                                  \
	do {                                                                                       \
		t_case = #name;                                                                    \
		t_failed_case = 0;                                                                 \
		name();                                                                            \
		if (t_failed_case)                                                                 \
			t_fails++;                                                                 \
		else                                                                               \
			printf("PASS %s\n", #name);                                                \
		fflush(stdout);                                                                    \
	} while (0)
#define T_DONE() return t_fails ? 1 : 0

#endif
