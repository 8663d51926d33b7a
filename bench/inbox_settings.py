"""bench.bench_settings (the production settings plus a trivial view) with static files collected
to a directory of the benchmark's own: pages use the hashed names of the manifest, as in production
after `collectstatic`, without touching var/staticfiles."""

from bench.bench_settings import *  # noqa: F403
from bench.bench_settings import BASE_DIR

STATIC_ROOT = BASE_DIR / "var" / "bench-staticfiles"
