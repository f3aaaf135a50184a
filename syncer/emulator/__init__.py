"""A built-in emulator of the Tencent Cloud Chat group REST API (aiohttp.web)."""

from syncer.emulator.server import EmuGroup, Emulator, EmulatorConfig

__all__ = ["EmuGroup", "Emulator", "EmulatorConfig"]
