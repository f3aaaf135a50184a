"""A Pushgateway-compatible endpoint for tests: PUT, POST (push-add) and DELETE on
/metrics/job/<job>{/<label>/<value>}, and GET /metrics to scrape what was pushed.

Semantics as the real Pushgateway's: a group is the job plus its grouping labels; PUT replaces
the whole group, POST replaces only the metric families the push carries, and every sample
comes out with the group's labels added.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

Group = tuple[tuple[str, str], ...]


class Pushgateway:
    def __init__(self) -> None:
        self.groups: dict[Group, dict[str, list[Sample]]] = {}
        self.types: dict[str, str] = {}
        self.pushes: list[tuple[str, Group]] = []
        self.url = ""

    @staticmethod
    def _group(path: str) -> Group:
        parts = path.strip("/").split("/")
        labels: list[tuple[str, str]] = []
        for key, value in zip(parts[0::2], parts[1::2], strict=True):
            if key.endswith("@base64"):
                key, value = key[: -len("@base64")], base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
            labels.append((key, value))
        return tuple(sorted(labels))

    async def _push(self, request: web.Request) -> web.Response:
        group = self._group("job/" + request.match_info["rest"])
        self.pushes.append((request.method, group))
        if request.method == "DELETE":
            self.groups.pop(group, None)
            return web.Response(status=202)
        families = {}
        for family in text_string_to_metric_families(await request.text()):
            self.types[family.name] = family.type
            families[family.name] = [Sample(s.name, {**s.labels, **dict(group)}, s.value) for s in family.samples]
        if request.method == "PUT":
            self.groups[group] = families
        else:
            self.groups.setdefault(group, {}).update(families)
        return web.Response(status=200)

    async def _scrape(self, request: web.Request) -> web.Response:
        lines: list[str] = []
        for group in self.groups.values():
            for name, samples in group.items():
                lines.append(f"# TYPE {name} {self.types[name]}")
                lines += [_line(s) for s in samples]
        return web.Response(text="\n".join(lines) + "\n", content_type="text/plain")

    def samples(self) -> Iterator[Sample]:
        for group in self.groups.values():
            for samples in group.values():
                yield from samples


def _line(sample: Sample) -> str:
    labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
    return f"{sample.name}{{{labels}}} {sample.value!r}"


@asynccontextmanager
async def pushgateway() -> AsyncIterator[Pushgateway]:
    gateway = Pushgateway()
    app = web.Application()
    app.router.add_route("*", "/metrics/job/{rest:.+}", gateway._push)
    app.router.add_get("/metrics", gateway._scrape)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    gateway.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield gateway
    finally:
        await runner.cleanup()
