"""The baseline a user might write instead of syncer: for each desired row, one get_group_info
for that group alone, then each write in turn, waiting for every answer. No batching, no
concurrency (and so, at any latency, no risk of going over a rate limit)."""

from __future__ import annotations

import json
import random
import time

import aiohttp
import asyncpg

from syncer.emulator.server import DEMO_SDKAPPID, DEMO_SECRET_KEY
from syncer.tencent.usersig import gen_usersig


async def naive_sync(db_url: str, base_url: str) -> None:
    sig = gen_usersig(DEMO_SECRET_KEY, DEMO_SDKAPPID, "administrator", 86400, int(time.time()))

    def url(path: str) -> str:
        q = f"sdkappid={DEMO_SDKAPPID}&identifier=administrator&usersig={sig}"
        return f"{base_url}/v4/{path}?{q}&random={random.getrandbits(32)}&contenttype=json"

    conn = await asyncpg.connect(db_url)
    try:
        rows = await conn.fetch("SELECT group_id, name, group_attrs::text AS attrs FROM desired_group_profiles")
    finally:
        await conn.close()
    async with aiohttp.ClientSession() as http:
        for row in rows:
            gid = row["group_id"]
            async with http.post(url("group_open_http_svc/get_group_info"), json={"GroupIdList": [gid]}) as r:
                info = (await r.json())["GroupInfo"][0]
            if info.get("Name") != row["name"]:
                body = {"GroupId": gid, "Name": row["name"]}
                async with http.post(url("group_open_http_svc/modify_group_base_info"), json=body) as r:
                    await r.read()
            if row["attrs"] is not None:
                want = json.loads(row["attrs"])
                async with http.post(url("group_open_attr_http_svc/get_group_attr"), json={"GroupId": gid}) as r:
                    have = {i["key"]: i["value"] for i in (await r.json()).get("GroupAttrAry", [])}
                if have != want:
                    items = [{"key": k, "value": v} for k, v in want.items()]
                    body = {"GroupId": gid, "GroupAttr": items}
                    async with http.post(url("group_open_http_svc/set_group_attr"), json=body) as r:
                        await r.read()
