/*
 * clock: the time as orgd sees it: the system clock plus an offset that tests
 * set (ORGD_CLOCK_OFFSET) to move orgd into another month or day. Owns the
 * offset, set once by main before any worker starts.
 */
#ifndef ORGD_CLOCK_H
#define ORGD_CLOCK_H

#include <stdint.h>

struct arena;

/* Add offset seconds to every clock_now() from now on. */
void clock_set_offset(int64_t offset);

/* Seconds since the epoch: the clock plus the offset. */
int64_t clock_now(void);

/* t as an RFC 3339 UTC string ("2026-11-27T22:19:00Z") in arena memory. */
const char *clock_rfc3339(int64_t t, struct arena *a);

/* The metering period of t, "YYYY-MM" (UTC), into out[8]. */
void clock_period(int64_t t, char out[8]);

/* t plus one calendar month (UTC; the 31st becomes the month's last day). */
int64_t clock_add_month(int64_t t);

#endif
