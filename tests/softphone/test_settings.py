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


def test_a_web_process_loads_every_view_and_what_sending_a_task_needs_then_freezes_it():
    """softphone.wsgi (what the web server loads) imports every view, the tasks and the parts of Celery a
    first `.delay()` would import, then freezes what it loaded: a full collection in a busy worker
    does not walk the whole framework, and the first request that sends a task does not import ~70
    modules while other requests wait (docs/benchmarks.md)."""
    script = ("import gc, sys, softphone.wsgi; "
              "names = ['messaging.webhooks', 'messaging.views', 'messaging.tasks', 'telephony.tasks', "
              "'kombu.transport.redis', 'celery.backends.redis', 'celery.events.dispatcher', "
              "'celery.contrib.django.task']; "
              "print(gc.get_freeze_count(), sorted(n for n in names if n not in sys.modules))")
    env = {k: v for k, v in os.environ.items() if k not in PRODUCTION_ENV}
    result = subprocess.run([sys.executable, "-c", script], cwd=BASE_DIR, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    frozen, missing = result.stdout.split(" ", 1)
    assert int(frozen) > 100_000
    assert missing.strip() == "[]"


def test_every_module_named_in_the_api_settings_imports_first_in_a_fresh_process():
    """DRF resolves its settings' class paths while `rest_framework.views` is first imported. A module
    named there that itself imports the views is then half-initialised whenever it is imported first,
    as in a Celery worker, which failed to start (the parser once lived in core.api)."""
    from django.conf import settings

    named = set()
    for value in settings.REST_FRAMEWORK.values():
        for path in value if isinstance(value, list | tuple) else [value]:
            if isinstance(path, str) and path.count(".") >= 2 and path.split(".")[0] in ("core", "softphone", "tenants"):
                named.add(path.rsplit(".", 1)[0])
    assert "core.api" in named  # paging and errors live there
    for module in sorted(named):
        code = (f"import django; django.setup(); import {module}; "
                "from rest_framework.views import APIView; from rest_framework.generics import GenericAPIView; "
                "print(APIView.parser_classes, GenericAPIView.pagination_class)")
        result = subprocess.run([sys.executable, "-c", code], cwd=BASE_DIR, capture_output=True, text=True,
                                env={**os.environ, "DJANGO_SETTINGS_MODULE": "softphone.settings"}, timeout=60)
        assert result.returncode == 0, f"importing {module} first:\n{result.stderr[-2000:]}"
