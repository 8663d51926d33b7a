"""What an uploaded recording really is, read from its bytes (never from its name or the browser's
content type): an MP3 (MPEG audio layer III, with or without an ID3v2 tag) or a WAV (RIFF/WAVE
with its format and data chunks). Those are the two formats Twilio's <Play> takes that we accept."""

from __future__ import annotations

MP3 = "mp3"
WAV = "wav"
CONTENT_TYPES = {MP3: "audio/mpeg", WAV: "audio/wav"}

# MPEG audio layer III: bitrates (kbit/s) by index, sample rates (Hz) by index, per MPEG version.
_BITRATES = {
    1: (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    2: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_SAMPLE_RATES = {1: (44100, 48000, 32000), 2: (22050, 24000, 16000), 25: (11025, 12000, 8000)}
_VERSIONS = {0b00: 25, 0b10: 2, 0b11: 1}  # 0b01 is reserved
_LAYER_III = 0b01


def audio_format(data: bytes) -> str | None:
    """MP3, WAV, or None when the bytes are neither."""
    if _is_wav(data):
        return WAV
    if _is_mp3(data):
        return MP3
    return None


def _is_wav(data: bytes) -> bool:
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return False
    seen, offset = set(), 12
    while offset + 8 <= len(data) and len(seen) < 2:
        chunk, size = data[offset:offset + 4], int.from_bytes(data[offset + 4:offset + 8], "little")
        if chunk == b"fmt ":
            if size < 16 or offset + 8 + size > len(data):
                return False
            channels = int.from_bytes(data[offset + 10:offset + 12], "little")
            rate = int.from_bytes(data[offset + 12:offset + 16], "little")
            if not (1 <= channels <= 8 and 1000 <= rate <= 192000):
                return False
            seen.add(chunk)
        elif chunk == b"data":
            seen.add(chunk)
        offset += 8 + size + (size & 1)  # chunks are padded to an even length
    return seen == {b"fmt ", b"data"}


def _is_mp3(data: bytes) -> bool:
    offset = 0
    if data[:3] == b"ID3":
        if len(data) < 10 or data[3] > 4 or any(byte & 0x80 for byte in data[6:10]):
            return False
        size = (data[6] << 21) | (data[7] << 14) | (data[8] << 7) | data[9]  # "syncsafe": 7 bits a byte
        offset = 10 + size + (10 if data[5] & 0x10 else 0)  # a footer follows when flagged
    first = _frame_length(data, offset)
    if first is None:
        return False
    following = offset + first
    # A second frame right after the first, when the file is long enough to hold one: one header
    # alone may happen by chance in any file.
    return following + 4 > len(data) or _frame_length(data, following) is not None


def _frame_length(data: bytes, offset: int) -> int | None:
    """The length of the MPEG layer III frame whose header starts at `offset`, or None if none does."""
    header = data[offset:offset + 4]
    if len(header) < 4 or header[0] != 0xFF or header[1] & 0xE0 != 0xE0:
        return None
    version = _VERSIONS.get((header[1] >> 3) & 0b11)
    if version is None or (header[1] >> 1) & 0b11 != _LAYER_III:
        return None
    bitrate_index, rate_index = header[2] >> 4, (header[2] >> 2) & 0b11
    if bitrate_index in (0, 15) or rate_index == 3:  # "free" bitrates are not for us; 15 and 3 are invalid
        return None
    bitrate = _BITRATES[1 if version == 1 else 2][bitrate_index] * 1000
    rate = _SAMPLE_RATES[version][rate_index]
    padding = (header[2] >> 1) & 1
    return (144 if version == 1 else 72) * bitrate // rate + padding
