"""`syncer emulator`: the emulator as a standalone server."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import signal

from syncer.emulator.server import DEMO_SDKAPPID, DEMO_SECRET_KEY, GROUP_TYPES, Emulator, EmulatorConfig
from syncer.errors import ConfigError
from syncer.settings import Settings, parse_rate_limits
from syncer.tencent.seeding import drifted_dataset


def add_emulator_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    p.add_argument("--sdkappid", type=int, default=DEMO_SDKAPPID)
    p.add_argument("--secret-key", default=DEMO_SECRET_KEY, help="default: the public demo key")
    p.add_argument("--admin", action="append", default=[], help="App admin identifiers (default administrator)")
    p.add_argument("--seed-groups", type=int, default=0, help="start with N generated groups (grp-0000000 …)")
    p.add_argument("--seed-channels", type=int, default=0, help="start with N generated Nexconn channels (ch0000000 …)")
    p.add_argument("--seed", type=int, default=0, help="seed of the data generator and the fault RNG")
    p.add_argument("--drift", type=float, default=0.5, help="share of seeded groups whose base fields drifted")
    p.add_argument("--attr-drift", type=float, default=0.25, help="share of seeded groups whose attributes drifted")
    p.add_argument("--synthetic-groups", type=int, default=0, help="groups grp-0000000… exist, in sync, made on use")
    p.add_argument("--restricted", type=int, default=0, help="make the first N seeded groups AVChatRoom groups")
    p.add_argument(
        "--seed-types",
        default="",
        metavar="TYPE[,TYPE…]",
        help=f"give the seeded groups these types in turn ({', '.join(GROUP_TYPES)}), each with its rules",
    )
    p.add_argument("--member-count", type=int, default=1, metavar="N", help="members of each seeded group (default 1)")
    p.add_argument(
        "--custom-keys",
        action="append",
        default=[],
        metavar="KEY[,KEY…]",
        help="custom-field keys enabled as in the vendor's console; any other key is refused with 10004 "
        "(default: none; POST /_emulator/custom-keys changes them while it serves)",
    )
    p.add_argument("--rate-limit", action="append", default=[], metavar="[COMMAND=]N")
    p.add_argument("--attr-writes-per-group", type=int, default=5)
    p.add_argument("--max-answer-bytes", type=int, default=1 << 20)
    p.add_argument("--latency-ms", type=float, default=0.0)
    p.add_argument("--latency-jitter-ms", type=float, default=0.0)
    for fault, what in (
        ("10002", "answer ErrorCode 10002"),
        ("502", "answer HTTP 502"),
        ("drop", "drop the connection unanswered"),
        ("throttle", "answer 60007 although under the limit"),
        ("slow", "apply the call but answer after --slow-seconds"),
    ):
        p.add_argument(f"--fault-{fault}", type=float, default=0.0, metavar="P", help=f"probability to {what}")
    p.add_argument("--slow-seconds", type=float, default=8.0)


# The flags whose values an EmulatorConfig takes as they are, under the same names.
_AS_GIVEN = (
    *("sdkappid", "secret_key", "attr_writes_per_group", "max_answer_bytes", "synthetic_groups", "seed"),
    *("fault_10002", "fault_502", "fault_drop", "fault_throttle", "fault_slow"),
)


def _listed(values: list[str]) -> list[str]:
    return [item.strip() for value in values for item in value.split(",") if item.strip()]


def seed_types(args: argparse.Namespace) -> tuple[str, ...]:
    types = tuple(_listed([args.seed_types]))
    unknown = [t for t in types if t not in GROUP_TYPES]
    if unknown:
        raise ConfigError(f"--seed-types: unknown group type {unknown[0]!r}; the types are {', '.join(GROUP_TYPES)}")
    return types


def emulator_config(args: argparse.Namespace) -> EmulatorConfig:
    default_rate, overrides = parse_rate_limits(args.rate_limit)
    if args.member_count < 1:
        raise ConfigError("--member-count: a group has at least its owner (1)")
    return EmulatorConfig(
        enabled_custom_keys=frozenset(_listed(args.custom_keys)),
        **{name: getattr(args, name) for name in _AS_GIVEN},
        admins=frozenset(args.admin or ["administrator"]),
        rate_limit=default_rate or 200,
        nexconn_rate_limit=default_rate or 100,
        rate_limit_overrides=overrides,
        latency_s=args.latency_ms / 1000,
        latency_jitter_s=args.latency_jitter_ms / 1000,
        slow_s=args.slow_seconds,
    )


async def cmd_emulator(settings: Settings, args: argparse.Namespace) -> int:
    emulator = Emulator(emulator_config(args))
    if args.seed_groups:
        data = drifted_dataset(
            args.seed_groups,
            seed=args.seed,
            base_drift=args.drift,
            attr_drift=args.attr_drift,
            restricted=args.restricted,
        )
        types = seed_types(args)
        for i, group in enumerate(data.live):
            if types and group.group_id not in data.restricted:
                group.type = types[i % len(types)]
            group.member_num = args.member_count
        emulator.seed(data.live)
    if args.seed_channels:
        from syncer.nexconn.seeding import drifted_channels

        emulator.nexconn.seed(drifted_channels(args.seed_channels, seed=args.seed, drift=args.drift).live)
    # Long collector pauses would stamp a whole burst of arrivals late, and the emulator would
    # count more calls in a second than were sent in it: keep the seeded state out of the
    # collector's way and collect rarely.
    gc.collect()
    gc.freeze()
    gc.set_threshold(100_000, 50, 1000)
    try:
        url = await emulator.start(args.host, args.port)
    except OSError as exc:
        await emulator.stop()
        raise ConfigError(f"the emulator cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    print(
        f"emulator listening on {url} (Tencent: SDKAppID {emulator.config.sdkappid}, {len(emulator.groups)} groups; "
        f"Nexconn: App-Key {emulator.config.nexconn_app_key}, {len(emulator.nexconn.channels)} channels)"
    )
    print(
        "state: GET /_emulator/groups, /_emulator/channels, /_emulator/stats, /_emulator/log; "
        "stop with Ctrl-C or SIGTERM",
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await emulator.stop()
    return 0
