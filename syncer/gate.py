"""The credentials gate: until one call has been answered without a credentials error, calls go
one at a time, so that wrong settings cost one call and one message, not one per batch in flight;
once the vendor has refused them, no further call is sent."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from syncer.errors import CredentialsError, VendorError

T = TypeVar("T")


class CredentialsGate:
    def __init__(self) -> None:
        self.proven = False  # a call has been answered without a credentials error
        self._lock = asyncio.Lock()
        self._refused: CredentialsError | None = None

    async def through(
        self, call: Callable[[], Awaitable[T]], unusable: Callable[[VendorError], CredentialsError | None]
    ) -> T:
        """Make ``call``. Before the gate is proven, one at a time; ``unusable`` turns a failure
        of such a first call into the error every later call gets too (None: not such a one)."""
        if self.proven:
            return await call()
        async with self._lock:
            if self._refused is not None:
                raise self._refused
            if not self.proven:
                return await self._first(call, unusable)
        return await call()

    async def _first(
        self, call: Callable[[], Awaitable[T]], unusable: Callable[[VendorError], CredentialsError | None]
    ) -> T:
        try:
            answer = await call()
        except CredentialsError as exc:
            self._refused = exc
            raise
        except VendorError as exc:
            refused = unusable(exc)
            if refused is not None:
                self._refused = refused
                raise refused from exc
            self.proven = True  # an answer not about credentials proves them
            raise
        self.proven = True
        return answer
