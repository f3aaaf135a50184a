"""Every byte from outside is untrusted: desired rows and vendor answers of any shape end in a
per-group rejection or failure naming the group and what was wrong, never a traceback, and a
write counts as applied only when the vendor's answer confirms it. Real Postgres, and a fake
vendor on loopback in front of the emulator."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import hypothesis
import pytest

from syncer.emulator.server import Emulator
from syncer.errors import CredentialsError, SyncerError, VendorUnreachable
from syncer.pipeline import RunReport
from syncer.settings import Settings
from syncer.tencent.seeding import desired_group, live_from_desired

from .fakevendor import FakeVendor, json_bytes
from .helpers import fast, load_desired, seeded_channels, settings_for, sync
from .test_decoding_properties import tencent_entries


@pytest.fixture
async def vendor(emulator: Emulator) -> AsyncIterator[FakeVendor]:
    async with FakeVendor(emulator) as fake:
        yield fake


def tencent_settings(db: str, emulator: Emulator, fake: FakeVendor, **overrides: Any) -> Settings:
    return settings_for(db, emulator, base_url=fake.base_url, **({"max_attempts": 2} | fast(emulator) | overrides))


async def seed_groups(db: str, emulator: Emulator, n: int, *, renamed: int = 0) -> list[str]:
    """``n`` groups in line at the emulator, the first ``renamed`` of them wanting a new name."""
    rows = [desired_group(i) for i in range(n)]
    emulator.seed(live_from_desired(row) for row in rows)
    wanted = [row if i >= renamed else _renamed(row) for i, row in enumerate(rows)]
    await load_desired(db, wanted)
    return [row.group_id for row in rows]


def _renamed(row: Any) -> Any:
    from dataclasses import replace

    return replace(row, name=f"New {row.name}"[:30])


async def states(db: str) -> dict[str, asyncpg.Record]:
    conn = await asyncpg.connect(db)
    try:
        return {r["group_id"]: r for r in await conn.fetch("SELECT * FROM group_sync_state")}
    finally:
        await conn.close()


async def run_rows(db: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(db)
    try:
        return list(await conn.fetch("SELECT * FROM sync_runs ORDER BY run_id"))
    finally:
        await conn.close()


# -- 7. success is confirmed, never assumed ---------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [
        {},
        {"ActionStatus": "FAIL"},
        {"ActionStatus": "OK"},
        {"ErrorCode": 0},
        {"ActionStatus": "OK", "ErrorCode": "0"},
        {"ActionStatus": "OK", "ErrorCode": False},
        {"ActionStatus": "OK", "ErrorCode": None},
        {"ActionStatus": "FAIL", "ErrorCode": 0},
    ],
    ids=json.dumps,
)
async def test_a_tencent_write_not_confirmed_by_its_answer_is_a_failure_not_an_update(
    db: str, emulator: Emulator, vendor: FakeVendor, answer: dict[str, Any]
) -> None:
    ids = await seed_groups(db, emulator, 6, renamed=3)
    vendor.answers["modify_group_base_info"] = lambda body: json_bytes(answer)
    report = await sync(tencent_settings(db, emulator, vendor))

    assert report.outcomes["updated"] == 0 and report.outcomes["failed"] == 3, report
    assert report.status == "partial"
    recorded = await states(db)
    for group_id in ids[:3]:
        assert recorded[group_id]["outcome"] == "failed"
        assert recorded[group_id]["last_applied"] is None
        assert "may or may not have applied" in recorded[group_id]["error_message"]
        assert emulator.groups[group_id].name == f"Team {ids.index(group_id)}"  # nothing changed there
    assert all(recorded[g]["outcome"] == "in_sync" for g in ids[3:])

    vendor.answers.clear()  # the vendor answers as documented again: the next run applies them
    again = await sync(tencent_settings(db, emulator, vendor))
    assert again.outcomes["updated"] == 3 and again.exit_code == 0


@pytest.mark.parametrize("answer", [{}, {"code": True}, {"code": "0"}, {"result": {}}, {"code": None}], ids=json.dumps)
async def test_a_nexconn_write_not_confirmed_by_its_answer_is_a_failure_not_an_update(
    db: str, emulator: Emulator, vendor: FakeVendor, answer: dict[str, Any]
) -> None:
    data = await seeded_channels(db, emulator, 8, seed=3, drift=1.0)
    vendor.answers["update"] = lambda body: json_bytes(answer)
    settings = settings_for(
        db,
        emulator,
        vendor="nexconn",
        nexconn_base_url=vendor.base_url,
        nexconn_backup_url=None,
        max_attempts=2,
        **fast(emulator),
    )
    report = await sync(settings)
    assert vendor.sent("update"), "the writes went out"
    assert report.outcomes["updated"] == 0
    assert report.outcomes["failed"] == len(data.drifted) > 0
    recorded = await states(db)
    assert {recorded[c]["outcome"] for c in data.drifted} == {"failed"}
    assert all(recorded[c]["last_applied"] is None for c in data.drifted)


# -- 6. any answer ---------------------------------------------------------------------------


def _deep(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


def _with_entry(change: Any) -> Any:
    """A rewrite of the batch answer in which the entry of the batch's first group is changed."""

    def rewrite(body: Any, answer: Any) -> bytes:
        first = body["GroupIdList"][0]
        answer["GroupInfo"] = [change(info) if info.get("GroupId") == first else info for info in answer["GroupInfo"]]
        return json_bytes(answer)

    return rewrite


def _whole(value: Any) -> Any:
    return lambda body, answer: json_bytes({**answer, "GroupInfo": value})


BAD_BATCH_ANSWERS = {
    "GroupInfo a string": (_whole("nope"), "GroupInfo as 'nope', not a list"),
    "GroupInfo an object": (_whole({"GroupId": "x"}), "GroupInfo as {'GroupId': 'x'}, not a list"),
    "GroupInfo strings": (_whole(["grp-0000050"]), "the answer did not include this group"),
    "ErrorCode 'none'": (_with_entry(lambda i: {**i, "ErrorCode": "none"}), "ErrorCode for this group is 'none'"),
    "ErrorCode null": (_with_entry(lambda i: {**i, "ErrorCode": None}), "ErrorCode for this group is None"),
    "ErrorCode missing": (
        _with_entry(lambda i: {k: v for k, v in i.items() if k != "ErrorCode"}),
        "ErrorCode for this group is None",
    ),
    "Name a number": (_with_entry(lambda i: {**i, "Name": 7}), "get_group_info answered Name as 7, not text"),
    "MaxMemberNum text": (
        _with_entry(lambda i: {**i, "MaxMemberNum": "2000"}),
        "MaxMemberNum as '2000', not a whole number",
    ),
    "AppDefinedData strings": (
        _with_entry(lambda i: {**i, "AppDefinedData": ["tier"]}),
        "an AppDefinedData item 'tier'",
    ),
    "AppDefinedData an object": (
        _with_entry(lambda i: {**i, "AppDefinedData": {"Key": "tier"}}),
        "AppDefinedData as {'Key': 'tier'}, not a list",
    ),
    "deep JSON in a field": (
        lambda body, answer: json_bytes(answer).replace(
            b'"GroupInfo":', b'"Deep":' + _deep(1100).encode() + b',"GroupInfo":'
        ),
        None,  # the batch's answer does not decode: every group of it fails, no other
    ),
}


@pytest.mark.parametrize("case", list(BAD_BATCH_ANSWERS), ids=str)
async def test_a_batch_answer_of_any_shape_fails_its_groups_with_a_reason_and_the_rest_proceed(
    db: str, emulator: Emulator, vendor: FakeVendor, case: str
) -> None:
    rewrite, message = BAD_BATCH_ANSWERS[case]
    # Every group must be written. The second batch's answer is the bad one: the first call of
    # a run has succeeded by then (a first call answered with nothing usable stops the run).
    ids = await seed_groups(db, emulator, 60, renamed=60)
    bad_batch = set(ids[50:])

    def only_second_batch(body: Any, answer: Any) -> bytes:
        return rewrite(body, answer) if body["GroupIdList"][0] == ids[50] else json_bytes(answer)

    vendor.rewrites["get_group_info"] = only_second_batch
    report = await sync(tencent_settings(db, emulator, vendor))

    runs = await run_rows(db)
    assert [r["status"] for r in runs] == ["partial"], runs
    recorded = await states(db)
    assert len(recorded) == 60
    assert all(recorded[g]["outcome"] == "updated" for g in ids[:50])  # the other batch proceeded
    failed = {g for g, r in recorded.items() if r["outcome"] == "failed"}
    assert failed and failed <= bad_batch
    if message is not None:
        assert message in recorded[ids[50]]["error_message"], recorded[ids[50]]["error_message"]
    assert report.outcomes["failed"] == len(failed)


async def test_an_attribute_answer_of_another_shape_fails_that_group_only(
    db: str, emulator: Emulator, vendor: FakeVendor
) -> None:
    ids = await seed_groups(db, emulator, 5)
    vendor.rewrites["get_group_attr"] = lambda body, answer: json_bytes(
        {**answer, "GroupAttrAry": ["topic", "lang"]} if body["GroupId"] == ids[2] else answer
    )
    report = await sync(tencent_settings(db, emulator, vendor))
    recorded = await states(db)
    assert recorded[ids[2]]["outcome"] == "failed"
    assert "get_group_attr answered an attribute 'topic'" in recorded[ids[2]]["error_message"]
    assert {recorded[g]["outcome"] for g in ids if g != ids[2]} == {"in_sync"}
    assert report.status == "partial"


# -- 6. any row; 9. a bad value quoted, never whole -------------------------------------------


async def _set(db: str, sql: str, *args: object) -> None:
    conn = await asyncpg.connect(db)
    try:
        await conn.execute(sql, *args)
    finally:
        await conn.close()


async def test_a_row_nested_1100_deep_is_rejected_and_every_other_group_syncs(
    db: str, emulator: Emulator, vendor: FakeVendor
) -> None:
    ids = await seed_groups(db, emulator, 120, renamed=120)
    await _set(db, "UPDATE desired_group_profiles SET group_attrs = $1::jsonb WHERE group_id = $2", _deep(1100), ids[7])
    report = await sync(tencent_settings(db, emulator, vendor))
    assert report.outcomes["rejected"] == 1 and report.outcomes["updated"] == 119, report
    recorded = await states(db)
    assert recorded[ids[7]]["outcome"] == "rejected"
    assert recorded[ids[7]]["error_message"] == f"group '{ids[7]}': group_attrs: JSON nested too deep"
    assert [r["status"] for r in await run_rows(db)] == ["succeeded"]  # 1 of 120: within 1 %
    assert not any(ids[7] in json.dumps(body) for _, body in vendor.requests)  # no call for it


async def test_a_10_mb_key_is_quoted_in_about_100_bytes_with_its_length(
    db: str, emulator: Emulator, vendor: FakeVendor
) -> None:
    ids = await seed_groups(db, emulator, 3)
    huge = "k" * (10 << 20)
    await _set(
        db,
        "UPDATE desired_group_profiles SET app_defined_data = jsonb_build_object($1::text, 'v') WHERE group_id = $2",
        huge,
        ids[1],
    )
    report: RunReport = await sync(tencent_settings(db, emulator, vendor))
    assert report.outcomes["rejected"] == 1
    message = (await states(db))[ids[1]]["error_message"]
    assert f"{10 << 20:,} bytes" in message
    assert len(message.encode()) < 400, len(message)


# -- 6. generated answers, through the whole pipeline -------------------------------------------


@hypothesis.settings(
    max_examples=15, deadline=None, suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture]
)
@hypothesis.given(entry=tencent_entries)
# A code past a 32-bit integer once failed the recording of every outcome, and so the run.
@hypothesis.example(entry={"GroupId": "grp-0000000", "ErrorCode": 2**31})
async def test_generated_answers_through_the_pipeline_end_every_run_with_a_status(
    db: str, emulator: Emulator, vendor: FakeVendor, entry: dict[str, Any]
) -> None:
    if not await states(db):
        await seed_groups(db, emulator, 4, renamed=2)

    def forged(body: Any, answer: Any) -> bytes:
        answer["GroupInfo"] = [
            {**entry, "GroupId": "grp-0000000"} if info["GroupId"] == "grp-0000000" else info
            for info in answer["GroupInfo"]
        ]
        return json_bytes(answer)

    vendor.rewrites["get_group_info"] = forged
    report = await sync(tencent_settings(db, emulator, vendor))
    assert report.status in ("succeeded", "partial")
    last = (await run_rows(db))[-1]
    assert last["status"] == report.status and last["finished_at"] is not None
    recorded = await states(db)
    assert recorded["grp-0000000"]["outcome"] in ("in_sync", "updated", "failed", "not_found")
    assert {recorded[g]["outcome"] for g in ("grp-0000002", "grp-0000003")} == {"in_sync"}


# -- 11. a vendor that cannot be used is named at once ------------------------------------------


@pytest.mark.parametrize(
    ("answer", "error", "says"),
    [
        ((502, b"bad gateway"), VendorUnreachable, "could not be reached before any call succeeded"),
        ((200, b"<html>hello</html>"), CredentialsError, "the host answers nothing the vendor sends"),
    ],
    ids=["unreachable", "not the vendor"],
)
async def test_a_vendor_that_answers_nothing_usable_stops_the_run_after_its_first_call(
    db: str, emulator: Emulator, vendor: FakeVendor, answer: tuple[int, bytes], error: type[SyncerError], says: str
) -> None:
    await seed_groups(db, emulator, 500)
    vendor.answers["get_group_info"] = lambda body: answer
    with pytest.raises(error, match=says) as raised:
        await sync(tencent_settings(db, emulator, vendor, max_attempts=8))
    assert "TENCENT_IM_BASE_URL" in str(raised.value)
    assert raised.value.exit_code == (1 if error is VendorUnreachable else 78)
    assert len(vendor.requests) == 3  # one call, three attempts: not 10 batches x 8 attempts
    (run,) = await run_rows(db)
    assert run["status"] == "failed" and says in run["error"]


async def test_a_refused_connection_stops_the_run_with_exit_1(db: str, emulator: Emulator) -> None:
    await seed_groups(db, emulator, 100)
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # bound, never listening: connections are refused
        settings = settings_for(db, emulator, base_url=f"http://127.0.0.1:{port}", max_attempts=8)
        with pytest.raises(VendorUnreachable, match="could not be reached before any call succeeded"):
            await sync(settings)


async def test_a_certificate_that_does_not_verify_stops_the_run_at_once_with_78(db: str, emulator: Emulator) -> None:
    import ssl

    import trustme

    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    served = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0, ssl=context)
    port = served.sockets[0].getsockname()[1]
    await seed_groups(db, emulator, 100)
    try:
        with pytest.raises(CredentialsError, match="TLS certificate does not verify") as raised:
            await sync(settings_for(db, emulator, base_url=f"https://127.0.0.1:{port}"))
    finally:
        served.close()
    assert raised.value.exit_code == 78 and not isinstance(raised.value, VendorUnreachable)
