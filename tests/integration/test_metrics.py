"""test_metrics: GET /metrics (issue 14): Prometheus's text format, checked by
promtool; counters that rise by exactly what was sent and survive a worker's death;
refused by nginx from an address other than 127.0.0.1."""

import os
import re
import shutil
import signal
import socket
import subprocess

from orgdtest import (expect, expect_eq, main, orgd_worker_pids, req, test, url, wait_until)

HOST, PORT = re.match(r"http://([^:/]+):(\d+)", url).groups()


def scrape():
    status, headers, _, raw = req("GET", "/metrics")
    expect_eq(status, 200, f"GET /metrics ({raw[:200]!r})")
    expect(headers.get("Content-Type", "").startswith("text/plain"),
           f"Content-Type {headers.get('Content-Type')!r}")
    return raw.decode()


def value(text, name, labels=""):
    """The sample name{labels} of text (0 when absent)."""
    pat = re.compile(r"^" + re.escape(name) + (r"\{" + re.escape(labels) + r"\}" if labels else "")
                     + r" (\S+)$", re.M)
    m = pat.search(text)
    return float(m.group(1)) if m else 0.0


@test
def promtool_finds_the_exposition_clean():
    text = scrape()
    promtool = shutil.which("promtool")
    expect(promtool, "promtool is not installed (scripts/install-deps installs prometheus)")
    p = subprocess.run([promtool, "check", "metrics"], input=text.encode(), capture_output=True,
                       timeout=30)
    expect(p.returncode == 0, f"promtool check metrics: {p.stdout.decode()} {p.stderr.decode()}")
    for name in ("orgd_requests_total", "orgd_request_duration_seconds_bucket",
                 "orgd_db_errors_total", "orgd_db_reconnects_total", "orgd_provider_calls_total",
                 "orgd_provider_call_duration_seconds_count", "orgd_outbox_backlog",
                 "orgd_outbox_failed", "orgd_sweeps_total", "orgd_worker_restarts_total",
                 "orgd_build_info"):
        expect(re.search(r"^" + name + r"[{ ]", text, re.M), f"{name} is not exposed")


@test
def a_counter_rises_by_exactly_the_requests_sent():
    labels = 'method="GET",route="/v1/health",class="2xx"'
    before = value(scrape(), "orgd_requests_total", labels)
    for _ in range(7):
        expect_eq(req("GET", "/v1/health")[0], 200, "health")
    after = value(scrape(), "orgd_requests_total", labels)
    expect_eq(after - before, 7.0, "health requests counted")
    hist = 'orgd_request_duration_seconds_count{method="GET",route="/v1/health"}'
    expect(hist.split("{")[0] in scrape(), "no latency histogram for /v1/health")


@test
def counters_survive_a_workers_death():
    labels = 'method="GET",route="/v1/health",class="2xx"'
    text = scrape()
    before, restarts = value(text, "orgd_requests_total", labels), \
        value(text, "orgd_worker_restarts_total")
    workers = orgd_worker_pids()
    os.kill(workers[0], signal.SIGKILL)
    expect(wait_until(lambda: len(orgd_worker_pids()) == len(workers) and
                      workers[0] not in orgd_worker_pids(), 10), "the worker was not replaced")
    text = scrape()
    expect(value(text, "orgd_requests_total", labels) >= before,
           "the request counter went back after a worker's death")
    expect_eq(value(text, "orgd_worker_restarts_total") - restarts, 1.0, "worker restarts")


@test
def metrics_from_another_address_are_refused_by_nginx():
    # the loopback range is ours: a client bound to 127.0.0.2 is "another address"
    with socket.create_connection((HOST, int(PORT)), timeout=5,
                                  source_address=("127.0.0.2", 0)) as s:
        s.sendall(f"GET /metrics HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode())
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    expect(answer.startswith(b"HTTP/1.1 403"), f"from 127.0.0.2: {answer[:120]!r}")
    expect(b"orgd_requests_total" not in answer, "the metrics were shown to 127.0.0.2")


if __name__ == "__main__":
    main()
