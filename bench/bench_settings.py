"""The production settings plus one trivial view, so the webhook can be compared with the cheapest
possible Django response served by the same processes in the same run."""

from softphone.settings import *  # noqa: F403

ROOT_URLCONF = "bench.bench_urls"
