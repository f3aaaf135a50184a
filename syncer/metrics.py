"""Prometheus metrics of one run: pushed to a Pushgateway at its end, served on /metrics meanwhile.

Each run is its own process (a CronJob's pod), so the counters describe that run. The run's
metrics are push-added (HTTP POST) under the job and shard: a push replaces only the metrics it
carries. The last-success timestamp is carried only by a run that succeeded, so a failed run
never overwrites the last success, and alerting on ``time() - syncer_last_success_timestamp_seconds``
works across failures.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from functools import partial
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

import structlog
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import basic_auth_handler, default_handler, pushadd_to_gateway
from prometheus_client.registry import Collector

from syncer.errors import ConfigError
from syncer.models import GroupResult, Outcome
from syncer.settings import redact_url
from syncer.sharding import UNSHARDED, Shard

if TYPE_CHECKING:
    from syncer.pipeline import RunReport

log = structlog.get_logger("syncer.metrics")

# Vendor calls take milliseconds near the vendor and hundreds of them far away; 5 s is our timeout.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
SUCCEEDED = frozenset({"succeeded"})


class _LastSuccess(Collector):
    """A gauge that exists only once set: a failed run's push must not carry it at all."""

    def __init__(self) -> None:
        self.value: float | None = None

    def collect(self) -> Iterator[GaugeMetricFamily]:
        if self.value is not None:
            yield GaugeMetricFamily(
                "syncer_last_success_timestamp_seconds",
                "Unix time at which the last run that left every group in line finished",
                value=self.value,
            )

    def describe(self) -> Iterator[GaugeMetricFamily]:
        return iter(())


class _RunStarted(Collector):
    """When the run under way started: with the last run's end, it says a run is stuck (started,
    and neither finished nor pushed since). Exists once the run has started."""

    def __init__(self) -> None:
        self.value: float | None = None

    def collect(self) -> Iterator[GaugeMetricFamily]:
        if self.value is not None:
            yield GaugeMetricFamily(
                "syncer_run_started_timestamp_seconds", "Unix time at which the latest run started", value=self.value
            )

    def describe(self) -> Iterator[GaugeMetricFamily]:
        return iter(())


class _GroupOutcomes(Collector):
    """syncer_groups_total from a plain counter: a run finishes thousands of groups a second, and a
    prometheus_client child's lock and label lookup per group would be the dearest part of the
    group's bookkeeping."""

    def __init__(self) -> None:
        self.counts: collections.Counter[Outcome] = collections.Counter()

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily("syncer_groups", "Groups finished by this run, by outcome", labels=["outcome"])
        for outcome in Outcome:  # every outcome is a series from the start, at 0
            family.add_metric([str(outcome)], self.counts[outcome])
        yield family

    def describe(self) -> Iterator[CounterMetricFamily]:
        return iter(())


class RunMetrics:
    """The metrics of one run. Watches the client's calls and the pipeline's groups."""

    def __init__(
        self,
        *,
        job: str = "syncer",
        vendor: str = "",
        shard: Shard = UNSHARDED,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.job = job
        self.vendor = vendor
        self.shard = shard
        self._clock = clock
        self.registry = CollectorRegistry()
        r = self.registry
        self.calls = Counter(
            "syncer_calls", "Vendor API calls sent, by command and result code", ["command", "code"], registry=r
        )
        self.call_seconds = Histogram(
            "syncer_call_duration_seconds",
            "Vendor API call latency, from send to answer",
            ["command"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self._calls: dict[tuple[str, str], Counter] = {}
        self._latency: dict[str, Histogram] = {}
        self._groups = _GroupOutcomes()
        r.register(self._groups)
        self.groups_total = Gauge(
            "syncer_run_groups", "Desired groups this run will go through (absent: not known beforehand)", registry=r
        )
        self.run_duration = Gauge("syncer_run_duration_seconds", "How long the last run took", registry=r)
        self.run_finished_at = Gauge(
            "syncer_last_run_timestamp_seconds", "Unix time at which the last run finished", registry=r
        )
        self.run_status = Gauge(
            "syncer_last_run_status",
            "1 for the status of the last run: succeeded, partial, failed or interrupted",
            ["status", "mode"],
            registry=r,
        )
        self.throttled = Gauge("syncer_run_throttled", "Throttling answers the last run got", registry=r)
        self._last_success = _LastSuccess()
        r.register(self._last_success)
        self._started = _RunStarted()
        r.register(self._started)
        # What a run pushes as it starts: its start alone, so that the last run's figures stay
        # as they were until this one ends.
        self.start_registry = CollectorRegistry()
        self.start_registry.register(self._started)
        self._start_push: asyncio.Task[bool] | None = None
        self._gateway_url: str | None = None

    # -- the client's hook ------------------------------------------------------------------------

    def on_answer(self, command: str, result: str, seconds: float) -> None:
        # Each series' child is looked up once: labels() takes a lock and builds a key per call.
        calls = self._calls.get((command, result))
        if calls is None:
            calls = self._calls[command, result] = self.calls.labels(command, result)
        latency = self._latency.get(command)
        if latency is None:
            latency = self._latency[command] = self.call_seconds.labels(command)
        calls.inc()
        latency.observe(seconds)

    # -- RunObserver --------------------------------------------------------------------------------

    def run_started(self, report: RunReport, total: int | None) -> None:
        self._started.value = self._clock()
        if total is not None:
            self.groups_total.set(total)
        if self._gateway_url is not None and report.mode != "plan":
            self._start_push = asyncio.create_task(self._push(self._gateway_url, self.start_registry, 10.0))

    def group_finished(self, result: GroupResult) -> None:
        self._groups.counts[result.outcome] += 1

    def groups_unchanged(self, count: int) -> None:
        self._groups.counts[Outcome.IN_SYNC] += count

    def run_finished(self, report: RunReport) -> None:
        now = self._clock()
        self.run_duration.set(report.duration_s)
        self.run_finished_at.set(now)
        self.run_status.labels(report.status, report.mode).set(1)
        self.throttled.set(report.throttled)
        if report.status in SUCCEEDED and report.mode != "plan":
            self._last_success.value = now

    # -- the two ways out -------------------------------------------------------------------------

    def exposition(self) -> bytes:
        return generate_latest(self.registry)

    def grouping_key(self) -> dict[str, str]:
        # Runs for two vendors, or two shards, keep their own metrics at the Pushgateway.
        key = {"shard": f"{self.shard.index}-of-{self.shard.count}"}
        if self.vendor:
            key["vendor"] = self.vendor
        return key

    def push_start_to(self, gateway_url: str) -> None:
        """Push the run's start to the Pushgateway once it has one (see :class:`_RunStarted`)."""
        self._gateway_url = gateway_url

    async def push(self, gateway_url: str, *, timeout_s: float = 10.0) -> bool:
        """Push-add to the Pushgateway. A failed push is logged, never fatal: the run is done."""
        if self._start_push is not None:
            await self._start_push  # never after the end's push: it would say the run is still going
        return await self._push(gateway_url, self.registry, timeout_s)

    async def _push(self, gateway_url: str, registry: CollectorRegistry, timeout_s: float) -> bool:
        url, handler = _split_credentials(gateway_url)
        try:
            await asyncio.to_thread(
                pushadd_to_gateway,
                url,
                job=self.job,
                registry=registry,
                grouping_key=self.grouping_key(),
                timeout=timeout_s,
                handler=handler,
            )
        except Exception as exc:  # urllib raises a zoo of errors; none may end the run
            log.warning("metrics_push_failed", pushgateway=redact_url(url), error=f"{type(exc).__name__}: {exc}")
            return False
        log.info("metrics_pushed", pushgateway=redact_url(url), job=self.job, **self.grouping_key())
        return True


def _split_credentials(url: str) -> tuple[str, Callable[..., Callable[[], None]]]:
    """``http://user:pass@host`` → the URL without them, and a handler that sends basic auth."""
    parts = urlsplit(url)
    if parts.username is None:
        return url, default_handler
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    bare = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    handler = partial(basic_auth_handler, username=parts.username, password=parts.password or "")
    return bare, handler


@asynccontextmanager
async def serve_metrics(metrics: RunMetrics, host: str, port: int) -> AsyncIterator[int]:
    """Serve ``/metrics`` while the block runs; yields the port (useful when ``port`` is 0)."""
    # Imported here: a run that serves no metrics does not pay for aiohttp's server side.
    from aiohttp import web

    async def scrape(request: web.Request) -> web.Response:
        return web.Response(body=metrics.exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application()
    app.router.add_get("/metrics", scrape)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise ConfigError(
            f"cannot serve metrics on {host}:{port}: {exc.strerror or exc}; check --metrics-port (SYNCER_METRICS_PORT)"
        ) from None
    bound = int(runner.addresses[0][1]) if runner.addresses else port
    log.info("metrics_serving", url=f"http://{host}:{bound}/metrics")
    try:
        yield bound
    finally:
        await runner.cleanup()
