/*
 * metrics: the counters GET /metrics shows (Prometheus's text format), kept in
 * a page the master maps before it forks, so that they survive a worker's
 * death and add up over all workers: requests by route and status class with
 * a latency histogram, database errors and reconnects, provider calls by
 * outcome with their latency, sweeps and what they did, worker restarts.
 * Without the page (unit tests, the mailer) the counters are the process's own.
 */
#ifndef ORGD_METRICS_H
#define ORGD_METRICS_H

#include <stddef.h>
#include <stdint.h>

/* Plain counters. */
enum metric {
	MET_DB_ERRORS,       /* statements that failed for a reason other than the request's */
	MET_DB_RECONNECTS,   /* connections opened after the first */
	MET_WORKER_RESTARTS, /* workers that died and were replaced */
	MET_SWEEP_AUTO_RECHARGE,
	MET_SWEEP_RENEWALS,
	MET_SWEEP_RECONCILE, /* sweeps run */
	MET_SWEPT_SUCCEEDED,
	MET_SWEPT_FAILED, /* what the sweeps' charges became */
	MET__MAX
};

#define METRICS_ROUTES   80 /* route indexes; the last one is "no route" */
#define METRICS_BUCKETS  12 /* latency buckets, in microseconds (metrics_bucket_us) */
#define METRICS_OUTCOMES 4  /* pay_outcome values */

extern const int64_t metrics_bucket_us[METRICS_BUCKETS];

/* A latency histogram: counts per bucket (cumulative when shown), total and sum. */
struct metrics_hist {
	uint64_t bucket[METRICS_BUCKETS], count, sum_us;
};

/* In the master, before any fork. 0 or -1. */
int metrics_init(void);

void metrics_add(enum metric m, uint64_t n);
/* One request answered: route index (METRICS_ROUTES - 1: none), its status, its time. */
void metrics_request(size_t route, int status, int64_t us);
/* One provider call: its outcome (enum pay_outcome) and its time. */
void metrics_provider(int outcome, int64_t us);

/* Reading, for the page: a counter; requests of a route by status class (1..5); hists. */
uint64_t metrics_get(enum metric m);
uint64_t metrics_requests(size_t route, int status_class);
void metrics_route_hist(size_t route, struct metrics_hist *out);
uint64_t metrics_provider_calls(int outcome);
void metrics_provider_hist(struct metrics_hist *out);

#endif
