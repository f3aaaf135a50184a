"""The one settings object: built at the edge (CLI, environment) and passed down."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from syncer.errors import ConfigError
from syncer.network import NetworkSettings, network_from_env
from syncer.nexconn.settings import NexconnSettings
from syncer.quoting import clip
from syncer.secret import Secret as Secret  # the name settings' users know it by
from syncer.sharding import Shard
from syncer.tencent.settings import TencentSettings
from syncer.thresholds import Threshold


def redact_url(url: str) -> str:
    """A URL fit for logs: no password, no query string."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:***@{host}" if ":" in userinfo else f"{user}@{host}"
    return f"{parts.scheme}://{netloc}{parts.path}"


_IDENTIFIER = re.compile(r'[A-Za-z_][A-Za-z0-9_$]*|"(?:[^"]|"")+"')


def quote_ident(name: str) -> str:
    """``name`` as a Postgres identifier, always quoted (so case and any character stay as given)."""
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True, slots=True)
class Relation:
    """A schema-qualified table or view name: never resolved through a search_path, so that
    syncer reads, and creates, exactly the relation named."""

    schema: str
    name: str

    @classmethod
    def parse(cls, text: str, setting: str) -> Relation:
        """``schema.name``; either part may be double-quoted (``"App"."Desired groups"``)."""
        parts = []
        rest = text.strip()
        while True:
            match = _IDENTIFIER.match(rest)
            if match is None:
                break
            token = match.group()
            parts.append(token[1:-1].replace('""', '"') if token.startswith('"') else token.lower())
            rest = rest[match.end() :]
            if not rest.startswith("."):
                break
            rest = rest[1:]
        if rest or len(parts) != 2:
            raise ConfigError(
                f"{setting}={clip(text)}: expected a schema-qualified name, schema.relation "
                "(for example public.desired_group_profiles)"
            )
        return cls(parts[0], parts[1])

    @property
    def sql(self) -> str:
        return f"{quote_ident(self.schema)}.{quote_ident(self.name)}"

    def __str__(self) -> str:
        return f"{self.schema}.{self.name}"


def parse_schema(text: str, setting: str) -> str:
    match = _IDENTIFIER.fullmatch(text.strip())
    if match is None:
        raise ConfigError(f"{setting}={clip(text)}: expected one schema name (for example syncer)")
    token = match.group()
    return token[1:-1].replace('""', '"') if token.startswith('"') else token.lower()


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: Secret | None = None
    # The schema of syncer's own tables and views: every syncer connection's search_path is this
    # schema alone. The desired relation is always named in full (None: the vendor's default,
    # public.desired_group_profiles or public.desired_group_channels).
    schema: str = "public"
    desired_relation: Relation | None = None
    vendor: str = "tencent"  # which chat vendor (syncer/vendors.py)
    # Each vendor's own settings, which its package defines, reads from the environment and checks.
    tencent: TencentSettings = field(default_factory=TencentSettings)
    nexconn: NexconnSettings = field(default_factory=NexconnSettings)
    # How vendor calls leave the machine: proxies and CA certificates (syncer/network.py).
    network: NetworkSettings = field(default_factory=NetworkSettings)

    # Limits: each API command has its own sliding one-second window. None: the vendor's own
    # documented limit (Tencent 200/s).
    rate_limit: int | None = None
    rate_limit_overrides: Mapping[str, int] = field(default_factory=dict)
    attr_writes_per_group: int = 5
    # Added to the one-second window. The client already moves each call's slot to the latest
    # its answer says it may have arrived (syncer/client.py); this covers what that misses.
    limiter_margin_s: float = 0.005

    max_in_flight: int = 256
    batches_in_flight: int = 16
    request_timeout_s: float = 5.0  # the vendor gives up at 3 s: ours must be longer
    max_attempts: int = 8
    # Retries in one run beyond the first attempts: at most this share of calls, plus a floor.
    # A vendor that is down then costs a bounded number of calls, not max_attempts per call.
    retry_budget_ratio: float = 0.5
    retry_budget_floor: int = 200
    grace_period_s: float = 25.0  # under Kubernetes' default 30 s terminationGracePeriodSeconds
    # How many groups a run may leave out of line and still succeed (exit 0, the last-success
    # metric moves on). Rejected rows and groups the vendor does not know are data for a person to
    # fix at their pace (a metric pages on them); failed groups are vendor trouble the next run
    # retries first. Either over its threshold: the run is partial and exits 2.
    max_rejected: Threshold = field(default_factory=lambda: Threshold(percent=1.0))
    max_failed: Threshold = field(default_factory=lambda: Threshold(percent=1.0))
    # How many groups a run may write to (a count, or a share of its desired rows); the rest are
    # held back and the run exits 5. None: no budget. A person running syncer by hand has just
    # read the plan; the CronJob, unattended, sets one (deploy/kubernetes/base/cronjob.yaml).
    max_changes: Threshold | None = None
    # How long the change journal keeps what each run wrote (`syncer prune` drops what is older).
    journal_retention_days: float = 90.0
    # A targeted run reads only these groups (--group), and those the filter selects (--where:
    # SQL over the desired relation, run read-only); neither: every group.
    targets: tuple[str, ...] = ()
    target_filter: str | None = None
    # Postgres: how long to wait to connect, and for any one statement (server-side too).
    db_connect_timeout_s: float = 10.0
    db_statement_timeout_s: float = 60.0
    # The run lock's connection is asked this often whether it still holds the lock (see
    # syncer/db/lock.py); a run that finds it gone stops sending.
    lock_heartbeat_s: float = 1.0
    backoff_base_s: float = 0.1
    backoff_cap_s: float = 5.0

    # Attribute reads: skipped when the desired set equals the one last confirmed, unless that
    # confirmation is older than attr_recheck_s or check_attrs forces a full read.
    attr_recheck_s: float = 24 * 3600
    check_attrs: bool = False

    # Incremental runs read only the desired rows changed since the last completed run (plus
    # failed, never synced and not-in-line ones); every full_every-th run is a full one (0: never).
    incremental: bool = False
    full_every: int = 0

    # Each page read and each recording is a round trip whose wake-up costs the worker as much
    # CPU as many groups settled by digest: larger pages and recordings cost less per group (the
    # next page is read while this one's batches go out, so a slower page never stalls the calls).
    page_size: int = 2000
    record_batch_size: int = 2000

    # A sharded run takes the groups that hash to its shard and its share of every rate limit.
    shard: Shard = field(default_factory=Shard)

    # Observability: a Pushgateway to push-add the run's metrics to, a port to serve /metrics on
    # while it runs, and the progress display (auto: a bar on a terminal, log lines otherwise).
    pushgateway_url: Secret | None = None
    metrics_job: str = "syncer"
    metrics_port: int | None = None
    metrics_host: str = "0.0.0.0"
    progress: str = "auto"  # auto | bar | log | off
    progress_interval_s: float = 10.0

    log_level: str = "info"
    log_format: str = "auto"  # auto | json | console
    color: str = "auto"  # auto | always | never (syncer/output.py)

    def vendor_limit_for(self, command: str, vendor_default: int) -> int:
        """The vendor's limit for ``command``, for every shard together."""
        return self.rate_limit_overrides.get(command, self.rate_limit or vendor_default)

    def limit_for(self, command: str, vendor_default: int) -> int:
        """This worker's limit for ``command``: its shard's share of the vendor's."""
        return self.shard.share(self.vendor_limit_for(command, vendor_default))

    def desired_relation_for(self, vendor: str, default_table: str) -> Relation:
        """The desired relation of ``vendor``: the one set (for the vendor the run is for), or
        ``public.<default_table>``."""
        if vendor == self.vendor and self.desired_relation is not None:
            return self.desired_relation
        return Relation("public", default_table)

    def app_scope(self) -> str:
        """What one run at a time is about: the vendor and its app, as ``<vendor>.<app ID>``."""
        app = self.tencent.sdkappid if self.vendor == "tencent" else self.nexconn.app_key
        return f"{self.vendor}.{app}"

    def require_database(self) -> str:
        if self.database_url is None:
            raise ConfigError("no database: set SYNCER_DATABASE_URL (or DATABASE_URL), or pass --database-url")
        url = self.database_url.reveal()
        if urlsplit(url).scheme not in ("postgresql", "postgres"):
            raise ConfigError(
                f"the database URL {redact_url(url)} is not a postgresql:// URL: "
                "check SYNCER_DATABASE_URL (or DATABASE_URL, --database-url)"
            )
        return url


def parse_rate_limits(specs: list[str]) -> tuple[int | None, dict[str, int]]:
    """``["150", "get_group_info=100"]`` → default 150, get_group_info 100."""
    default: int | None = None
    overrides: dict[str, int] = {}
    for spec in specs:
        command, sep, value = spec.rpartition("=")
        try:
            number = int(value)
        except ValueError:
            raise ConfigError(f"rate limit {spec!r}: expected N or COMMAND=N") from None
        if number < 1:
            raise ConfigError(f"rate limit {spec!r}: must be at least 1 call per second")
        if sep:
            overrides[command] = number
        else:
            default = number
    return default, overrides


def settings_from_env(env: Mapping[str, str] | None = None) -> Settings:
    """The settings the environment gives: proxies and CA certificates from the variables every
    HTTP tool reads (syncer/network.py), the rest from the table of settings (syncer/options.py,
    which builds on this module)."""
    from syncer.options import from_env

    env = os.environ if env is None else env
    return from_env(Settings(network=network_from_env(env)), env)


def parse_budget(text: str, setting: str) -> Threshold | None:
    """A change budget: a count or a share, or "none" (or nothing) for no budget."""
    text = text.strip()
    return None if text.lower() in ("", "none") else Threshold.parse(text, setting)
