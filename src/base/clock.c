/*
 * clock: the system clock plus the tests' offset (see clock.h).
 */
#include "orgd/clock.h"

#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "orgd/mem.h"

static int64_t offset;

void clock_set_offset(int64_t o)
{
	offset = o;
}

int64_t clock_now(void)
{
	return (int64_t)time(NULL) + offset;
}

const char *clock_rfc3339(int64_t t, struct arena *a)
{
	time_t tt = (time_t)t;
	struct tm tm;
	char s[32];
	gmtime_r(&tt, &tm);
	strftime(s, sizeof s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return arena_strndup(a, s, strlen(s));
}

void clock_period(int64_t t, char out[8])
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(out, 8, "%Y-%m", &tm);
}

static int days_in_month(int year, int mon)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
	return mon == 1 && leap ? 29 : days[mon];
}

int64_t clock_add_month(int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	int year = tm.tm_year + 1900, mon = tm.tm_mon + 1;
	if (mon == 12) {
		mon = 0;
		year++;
	}
	int mday = tm.tm_mday, last = days_in_month(year, mon);
	tm.tm_year = year - 1900;
	tm.tm_mon = mon;
	tm.tm_mday = mday > last ? last : mday;
	return (int64_t)timegm(&tm);
}
