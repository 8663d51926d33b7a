"""Serve a fake Twilio account with N numbers over HTTP from its own process (for benchmarks).

    python -m bench.fake_twilio_server ACCOUNT_SID AUTH_TOKEN COUNT
prints the base URL on its first line, then serves until killed.
"""

import sys
import time

from softphone.simulator.twilio import FakeTwilio


def main() -> None:
    sid, token, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    fake = FakeTwilio()
    base_url = fake.start()
    fake.add_account(sid, token, friendly_name="Benchmark account")
    fake.add_incoming_numbers(sid, count, start="+14155550000")
    print(base_url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        fake.stop()


if __name__ == "__main__":
    main()
