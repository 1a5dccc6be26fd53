/*
 * metrics_page: GET /metrics, the shared counters (metrics.h) in Prometheus's
 * text exposition format, with the route patterns of the table; nginx lets
 * only 127.0.0.1 reach it. The outbox's backlog is read from the database
 * at each scrape (one statement).
 */
#include <inttypes.h>
#include <stdio.h>

#include "orgd/api.h"
#include "orgd/db_mail.h"
#include "orgd/http.h"
#include "orgd/metrics.h"
#include "orgd/route.h"

#ifndef ORGD_VERSION
#define ORGD_VERSION "dev"
#endif

static void head(struct buf *b, const char *name, const char *type, const char *help)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void hist(struct buf *b, const char *name, const char *labels, const struct metrics_hist *h)
{
	const char *sep = labels[0] ? "," : "";
	for (size_t i = 0; i < METRICS_BUCKETS; i++)
		buf_printf(b, "%s_bucket{%s%sle=\"%g\"} %" PRIu64 "\n", name, labels, sep,
			   (double)metrics_bucket_us[i] / 1e6, h->bucket[i]);
	buf_printf(b, "%s_bucket{%s%sle=\"+Inf\"} %" PRIu64 "\n", name, labels, sep, h->count);
	buf_printf(b, "%s_sum{%s} %.6f\n%s_count{%s} %" PRIu64 "\n", name, labels,
		   (double)h->sum_us / 1e6, name, labels, h->count);
}

err_t http_metrics_page(struct req *r)
{
	static const char *const outcomes[METRICS_OUTCOMES] = {"ok", "declined", "pending",
							       "rejected"};
	struct buf *b = &r->out;
	char labels[160];
	head(b, "orgd_requests_total", "counter",
	     "Requests answered, by route pattern and status class.");
	for (size_t i = 0; i <= nroutes && i < METRICS_ROUTES; i++) {
		const char *path = i < nroutes ? routes[i].path : "-";
		const char *method = i < nroutes ? http_method_name(routes[i].method) : "-";
		for (int c = 1; c <= 5; c++) {
			uint64_t n = metrics_requests(i < nroutes ? i : METRICS_ROUTES - 1, c);
			if (n)
				buf_printf(b,
					   "orgd_requests_total{method=\"%s\",route=\"%s\",class="
					   "\"%dxx\"} %" PRIu64 "\n",
					   method, path, c, n);
		}
	}
	head(b, "orgd_request_duration_seconds", "histogram", "Time to answer, by route pattern.");
	for (size_t i = 0; i <= nroutes && i < METRICS_ROUTES; i++) {
		struct metrics_hist h;
		metrics_route_hist(i < nroutes ? i : METRICS_ROUTES - 1, &h);
		if (!h.count)
			continue;
		snprintf(labels, sizeof labels, "method=\"%s\",route=\"%s\"",
			 i < nroutes ? http_method_name(routes[i].method) : "-",
			 i < nroutes ? routes[i].path : "-");
		hist(b, "orgd_request_duration_seconds", labels, &h);
	}
	head(b, "orgd_db_errors_total", "counter",
	     "Database statements that failed (not the request's fault).");
	buf_printf(b, "orgd_db_errors_total %" PRIu64 "\n", metrics_get(MET_DB_ERRORS));
	head(b, "orgd_db_reconnects_total", "counter",
	     "Database connections opened again after a loss.");
	buf_printf(b, "orgd_db_reconnects_total %" PRIu64 "\n", metrics_get(MET_DB_RECONNECTS));
	head(b, "orgd_provider_calls_total", "counter", "Payment provider calls, by outcome.");
	for (int o = 0; o < METRICS_OUTCOMES; o++)
		buf_printf(b, "orgd_provider_calls_total{outcome=\"%s\"} %" PRIu64 "\n",
			   outcomes[o], metrics_provider_calls(o));
	head(b, "orgd_provider_call_duration_seconds", "histogram", "Payment provider call time.");
	struct metrics_hist ph;
	metrics_provider_hist(&ph);
	hist(b, "orgd_provider_call_duration_seconds", "", &ph);
	int64_t backlog = 0, failed = 0;
	err_t err = db_outbox_backlog(&backlog, &failed);
	head(b, "orgd_outbox_backlog", "gauge", "Messages waiting in the outbox.");
	buf_printf(b, "orgd_outbox_backlog %" PRId64 "\n", backlog);
	head(b, "orgd_outbox_failed", "gauge", "Messages given up after their last attempt.");
	buf_printf(b, "orgd_outbox_failed %" PRId64 "\n", failed);
	head(b, "orgd_outbox_up", "gauge", "Whether the outbox could be read for this scrape.");
	buf_printf(b, "orgd_outbox_up %d\n", err == ERR_OK);
	head(b, "orgd_sweeps_total", "counter", "Cron sweeps run, by sweep.");
	buf_printf(b, "orgd_sweeps_total{sweep=\"auto-recharge\"} %" PRIu64 "\n",
		   metrics_get(MET_SWEEP_AUTO_RECHARGE));
	buf_printf(b, "orgd_sweeps_total{sweep=\"renewals\"} %" PRIu64 "\n",
		   metrics_get(MET_SWEEP_RENEWALS));
	buf_printf(b, "orgd_sweeps_total{sweep=\"reconcile\"} %" PRIu64 "\n",
		   metrics_get(MET_SWEEP_RECONCILE));
	head(b, "orgd_swept_charges_total", "counter", "What the sweeps' charges became.");
	buf_printf(b, "orgd_swept_charges_total{result=\"succeeded\"} %" PRIu64 "\n",
		   metrics_get(MET_SWEPT_SUCCEEDED));
	buf_printf(b, "orgd_swept_charges_total{result=\"failed\"} %" PRIu64 "\n",
		   metrics_get(MET_SWEPT_FAILED));
	head(b, "orgd_worker_restarts_total", "counter", "Workers that died and were replaced.");
	buf_printf(b, "orgd_worker_restarts_total %" PRIu64 "\n", metrics_get(MET_WORKER_RESTARTS));
	head(b, "orgd_build_info", "gauge", "The build: its version.");
	buf_printf(b, "orgd_build_info{version=\"%s\"} 1\n", ORGD_VERSION);
	r->out_type = "text/plain; version=0.0.4; charset=utf-8";
	return ERR_OK;
}
