"""TLSSigAPIv2 UserSigs: generate, decode and verify (tencent-facts.md, "UserSig")."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import zlib
from dataclasses import dataclass
from typing import Any

_TO_URL = str.maketrans({"+": "*", "/": "-", "=": "_"})
_FROM_URL = str.maketrans({"*": "+", "-": "/", "_": "="})


class UserSigError(ValueError):
    """A UserSig could not be decoded or did not verify. ``code`` is the vendor's error code."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class DecodedSig:
    identifier: str
    sdkappid: int
    time: int
    expire: int
    sig: str

    @property
    def expires_at(self) -> int:
        return self.time + self.expire


def _hmac_b64(secret_key: str, identifier: str, sdkappid: int, now: int, expire: int) -> str:
    content = f"TLS.identifier:{identifier}\nTLS.sdkappid:{sdkappid}\nTLS.time:{now}\nTLS.expire:{expire}\n"
    digest = hmac.new(secret_key.encode("utf-8"), content.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def gen_usersig(secret_key: str, sdkappid: int, identifier: str, expire: int, now: int) -> str:
    doc = {
        "TLS.ver": "2.0",
        "TLS.identifier": identifier,
        "TLS.sdkappid": sdkappid,
        "TLS.expire": expire,
        "TLS.time": now,
        "TLS.sig": _hmac_b64(secret_key, identifier, sdkappid, now, expire),
    }
    compressed = zlib.compress(json.dumps(doc, separators=(",", ":")).encode("utf-8"))
    return base64.b64encode(compressed).decode("ascii").translate(_TO_URL)


def decode_usersig(usersig: str) -> DecodedSig:
    try:
        raw = zlib.decompress(base64.b64decode(usersig.translate(_FROM_URL), validate=True))
        doc: dict[str, Any] = json.loads(raw)
        return DecodedSig(
            identifier=str(doc["TLS.identifier"]),
            sdkappid=int(doc["TLS.sdkappid"]),
            time=int(doc["TLS.time"]),
            expire=int(doc["TLS.expire"]),
            sig=str(doc["TLS.sig"]),
        )
    except (ValueError, KeyError, TypeError, zlib.error) as exc:
        raise UserSigError("UserSig is malformed", 70003) from exc


def verify_usersig(usersig: str, *, secret_key: str, sdkappid: int, identifier: str, now: int) -> DecodedSig:
    """The checks the vendor makes, in its order: SDKAppID, identifier, expiry, then the HMAC."""
    decoded = decode_usersig(usersig)
    if decoded.sdkappid != sdkappid:
        raise UserSigError("UserSig SDKAppID does not match the request", 70014)
    if decoded.identifier != identifier:
        raise UserSigError("UserSig identifier does not match the request", 70013)
    if now > decoded.expires_at:
        raise UserSigError("UserSig has expired", 70001)
    expected = _hmac_b64(secret_key, decoded.identifier, decoded.sdkappid, decoded.time, decoded.expire)
    if not hmac.compare_digest(expected, decoded.sig):
        raise UserSigError("UserSig signature does not verify (wrong key or SDKAppID)", 70009)
    return decoded
