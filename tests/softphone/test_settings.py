import os
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]

PRODUCTION_ENV = {
    "SOFTPHONE_ENV": "production",
    "SECRET_KEY": "x" * 30 + "-production-like-secret-key-with-enough-entropy-0123456789",
    "FERNET_KEYS": "production-fernet-key",
    "ALLOWED_HOSTS": "softphone.example.com",
    "PUBLIC_BASE_URL": "https://softphone.example.com",
    "DEBUG": "false",
}


def _manage(*args, env):
    merged = {k: v for k, v in os.environ.items() if k not in PRODUCTION_ENV}
    merged.update(env)
    return subprocess.run([sys.executable, "manage.py", *args], cwd=BASE_DIR, env=merged,
                          capture_output=True, text=True, timeout=120)


def test_check_deploy_passes_with_production_settings():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_its_secrets():
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "FERNET_KEYS"}
    env["FERNET_KEYS"] = ""
    result = _manage("check", env=env)
    assert result.returncode != 0
    assert "FERNET_KEYS must be set when SOFTPHONE_ENV=production" in result.stderr
