"""UserSig (TLSSigAPIv2) against the vectors in tencent-facts.md: decoded fields, not strings."""

from __future__ import annotations

from typing import Any

import pytest

from syncer.secret import Secret
from syncer.tencent.client import UserSigCache
from syncer.tencent.settings import TencentSettings
from syncer.tencent.usersig import UserSigError, decode_usersig, gen_usersig, verify_usersig

KEY = "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e"


@pytest.mark.parametrize(
    ("identifier", "expire", "sig"),
    [
        ("xiaojun", 15552000, "LvA7d/Iw7gSsnskvVzBDPOCCDbuNCw4GHwTC0bip+B4="),
        ("administrator", 86400, "yLAe+w7WUeUuqbV9h/TX78u21oTGi+i9Zp1u3PpnY60="),
    ],
)
def test_matches_the_official_vectors(identifier: str, expire: int, sig: str) -> None:
    decoded = decode_usersig(gen_usersig(KEY, 1400000000, identifier, expire, 1700000000))
    assert decoded.sig == sig
    assert (decoded.identifier, decoded.sdkappid, decoded.time, decoded.expire) == (
        identifier,
        1400000000,
        1700000000,
        expire,
    )


def test_url_safe_alphabet() -> None:
    usersig = gen_usersig(KEY, 1400000000, "administrator", 86400, 1700000000)
    assert not set(usersig) & set("+/=")


def test_verify_checks_in_the_vendors_order() -> None:
    usersig = gen_usersig(KEY, 1400000000, "administrator", 86400, 1700000000)
    ok: dict[str, Any] = dict(secret_key=KEY, sdkappid=1400000000, identifier="administrator", now=1700000100)
    assert verify_usersig(usersig, **ok).identifier == "administrator"
    cases: list[tuple[dict[str, Any], int]] = [
        ({"sdkappid": 1400000001}, 70014),
        ({"identifier": "bob"}, 70013),
        ({"now": 1700000000 + 86401}, 70001),
        ({"secret_key": "0" * 64}, 70009),
    ]
    for change, code in cases:
        with pytest.raises(UserSigError) as err:
            verify_usersig(usersig, **{**ok, **change})
        assert err.value.code == code
    with pytest.raises(UserSigError) as err:
        verify_usersig("not-a-sig", **ok)
    assert err.value.code == 70003


def test_cache_reuses_then_renews_well_before_expiry() -> None:
    clock = [1_000_000.0]
    own = TencentSettings(1400000000, Secret(KEY), usersig_ttl_s=86400, usersig_renew_before_s=3600)
    cache = UserSigCache(own, now=lambda: clock[0])
    first = cache.get()
    clock[0] += 86400 - 3601
    assert cache.get() == first
    clock[0] += 2
    renewed = cache.get()
    assert renewed != first
    assert decode_usersig(renewed).time == int(clock[0])
    cache.invalidate()
    clock[0] += 1
    assert decode_usersig(cache.get()).time == int(clock[0])
