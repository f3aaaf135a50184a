"""What a capable engineer might write in an afternoon instead of syncer, to price a first run
against: stateless, aiohttp and asyncpg, batch reads of 50 with a response filter, 16 at a time,
each managed field compared and only what differs written. No validation, no records, no rate
limit, no retries: it does less than syncer, and the bench runs it on the same groups.

    python bench/script.py DATABASE_URL BASE_URL SDKAPPID SECRET_KEY [--uvloop]
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
from typing import Any

import aiohttp
import asyncpg
import orjson

from syncer.tencent.models import BASE_FIELDS as FIELDS
from syncer.tencent.usersig import gen_usersig

PAGE = """
SELECT group_id, name, introduction, notification, face_url, max_member_num, apply_join_option,
       invite_join_option, mute_all_member, app_defined_data::text AS custom
FROM desired_group_profiles WHERE group_id > $1 ORDER BY group_id LIMIT 2000
"""


def wanted(row: asyncpg.Record) -> tuple[dict[str, Any], dict[str, str]]:
    base = {field: row[column] for column, field in FIELDS.items() if row[column] is not None}
    if "MuteAllMember" in base:
        base["MuteAllMember"] = "On" if base["MuteAllMember"] else "Off"
    return base, orjson.loads(row["custom"]) if row["custom"] else {}


async def main(db_url: str, base_url: str, sdkappid: int, key: str) -> int:
    sig = gen_usersig(key, sdkappid, "administrator", 86400, int(time.time()))
    query = f"sdkappid={sdkappid}&identifier=administrator&usersig={sig}&contenttype=json"
    writes = 0

    async def post(http: aiohttp.ClientSession, path: str, body: dict[str, Any]) -> Any:
        url = f"{base_url}/v4/{path}?{query}&random={random.getrandbits(32)}"
        async with http.post(url, data=orjson.dumps(body)) as answer:
            return orjson.loads(await answer.read())

    async def batch(http: aiohttp.ClientSession, rows: list[asyncpg.Record], slots: asyncio.Semaphore) -> None:
        nonlocal writes
        async with slots:
            desired = {row["group_id"]: wanted(row) for row in rows}
            keys = sorted({key for _, custom in desired.values() for key in custom})
            body = {
                "GroupIdList": list(desired),
                "ResponseFilter": {"GroupBaseInfoFilter": list(FIELDS.values()), "AppDefinedDataFilter_Group": keys},
            }
            answer = await post(http, "group_open_http_svc/get_group_info", body)
            for info in answer["GroupInfo"]:
                base, custom = desired[info["GroupId"]]
                change = {field: value for field, value in base.items() if info.get(field) != value}
                live_custom = {item["Key"]: item["Value"] for item in info.get("AppDefinedData", [])}
                items = [{"Key": k, "Value": v} for k, v in custom.items() if live_custom.get(k) != v]
                if items:
                    change["AppDefinedData"] = items
                if change:
                    change["GroupId"] = info["GroupId"]
                    await post(http, "group_open_http_svc/modify_group_base_info", change)
                    writes += 1

    async with asyncpg.create_pool(db_url, min_size=1, max_size=1) as pool, aiohttp.ClientSession() as http:
        slots = asyncio.Semaphore(16)
        tasks = []
        after = ""
        while rows := await pool.fetch(PAGE, after):
            tasks += [asyncio.ensure_future(batch(http, rows[i : i + 50], slots)) for i in range(0, len(rows), 50)]
            after = rows[-1]["group_id"]
            await asyncio.gather(*tasks)  # one page in flight at a time: memory stays flat
            tasks = []
    print(writes)
    return 0


if __name__ == "__main__":
    loop_factory = None
    if "--uvloop" in sys.argv:
        import uvloop

        loop_factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        sys.exit(runner.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4])))
