"""Time-ordered UUIDs (RFC 9562 version 7) for primary keys.

URLs carry UUIDs, never sequential ids; version 7 keeps new rows at the right-hand edge of the
primary-key index, as a sequence would, instead of scattering inserts as uuid4 does.
"""

import os
import time
import uuid


def uuid7() -> uuid.UUID:
    unix_ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (unix_ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76  # version
    value |= (rand >> 68) << 64 & (0xFFF << 64)  # 12 random bits (rand_a)
    value |= 0b10 << 62  # variant
    value |= rand & ((1 << 62) - 1)  # 62 random bits (rand_b)
    return uuid.UUID(int=value)
