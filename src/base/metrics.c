/*
 * metrics: the shared counters (see metrics.h). Every update is one relaxed
 * atomic add on the shared page; readers see each counter whole.
 */
#include "orgd/metrics.h"

#include <stdatomic.h>
#include <sys/mman.h>

const int64_t metrics_bucket_us[METRICS_BUCKETS] = {
	500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 5000000,
};

struct hist {
	atomic_uint_least64_t bucket[METRICS_BUCKETS], count, sum_us;
};

struct page {
	atomic_uint_least64_t counter[MET__MAX];
	atomic_uint_least64_t requests[METRICS_ROUTES][5]; /* by status class 1xx..5xx */
	struct hist route[METRICS_ROUTES];
	atomic_uint_least64_t provider[METRICS_OUTCOMES];
	struct hist provider_time;
};

static struct page local, *m = &local;

int metrics_init(void)
{
	void *p = mmap(NULL, sizeof *m, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	m = p;
	return 0;
}

static void add(atomic_uint_least64_t *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static uint64_t get(atomic_uint_least64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

static void observe(struct hist *h, int64_t us)
{
	size_t b = 0;
	while (b < METRICS_BUCKETS && us > metrics_bucket_us[b])
		b++;
	if (b < METRICS_BUCKETS)
		add(&h->bucket[b], 1);
	add(&h->count, 1);
	add(&h->sum_us, us > 0 ? (uint64_t)us : 0);
}

static void read_hist(struct hist *h, struct metrics_hist *out)
{
	uint64_t running = 0;
	for (size_t b = 0; b < METRICS_BUCKETS; b++) /* shown cumulative, as Prometheus wants */
		out->bucket[b] = running += get(&h->bucket[b]);
	out->count = get(&h->count);
	out->sum_us = get(&h->sum_us);
}

void metrics_add(enum metric c, uint64_t n)
{
	if ((unsigned)c < MET__MAX)
		add(&m->counter[c], n);
}

void metrics_request(size_t route, int status, int64_t us)
{
	if (route >= METRICS_ROUTES)
		route = METRICS_ROUTES - 1;
	int cls = status / 100;
	if (cls >= 1 && cls <= 5)
		add(&m->requests[route][cls - 1], 1);
	observe(&m->route[route], us);
}

void metrics_provider(int outcome, int64_t us)
{
	if (outcome >= 0 && outcome < METRICS_OUTCOMES)
		add(&m->provider[outcome], 1);
	observe(&m->provider_time, us);
}

uint64_t metrics_get(enum metric c)
{
	return (unsigned)c < MET__MAX ? get(&m->counter[c]) : 0;
}

uint64_t metrics_requests(size_t route, int cls)
{
	return route < METRICS_ROUTES && cls >= 1 && cls <= 5 ? get(&m->requests[route][cls - 1])
							      : 0;
}

void metrics_route_hist(size_t route, struct metrics_hist *out)
{
	read_hist(&m->route[route < METRICS_ROUTES ? route : METRICS_ROUTES - 1], out);
}

uint64_t metrics_provider_calls(int outcome)
{
	return outcome >= 0 && outcome < METRICS_OUTCOMES ? get(&m->provider[outcome]) : 0;
}

void metrics_provider_hist(struct metrics_hist *out)
{
	read_hist(&m->provider_time, out);
}
