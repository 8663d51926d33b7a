"""Checks every SQL file an app loads through its migrations shares (messaging/sql/inbound.sql,
telephony/sql/voice.sql): the newest loading migration matches the file, and the database runs
exactly what the file defines."""

from __future__ import annotations

import hashlib
import importlib
import re
from pathlib import Path

from django.db import connection

DEFINED = re.compile(r"create or replace (?:function|procedure) (\w+)\(.*?\$\$(.*?)\$\$", re.DOTALL)


def definitions(sql_file: Path) -> dict[str, str]:
    """Each function or procedure the file defines, with its body as PostgreSQL keeps it (prosrc)."""
    return dict(DEFINED.findall(sql_file.read_text()))


def assert_newest_loader_matches(app: str, sql_file: Path) -> None:
    """Databases migrated before a change would keep the old definitions: the newest migration of
    `app` that loads the file (one with a SHA256) must have been written for the file as it is."""
    names = sorted(path.stem for path in (sql_file.parent.parent / "migrations").glob("0*.py"))
    loaders = [module for module in (importlib.import_module(f"{app}.migrations.{name}") for name in names)
               if hasattr(module, "SHA256")]
    assert loaders, f"no migration of {app} loads {sql_file.name}"
    assert loaders[-1].SHA256 == hashlib.sha256(sql_file.read_bytes()).hexdigest(), (
        f"{app}/sql/{sql_file.name} changed: add a migration that loads it again, with its new SHA256")


def assert_database_runs(sql_file: Path, names: list[str]) -> None:
    """The file defines exactly `names`, and the database holds those bodies, none running as its
    owner (SECURITY DEFINER would escape row-level security)."""
    defined = definitions(sql_file)
    assert sorted(defined) == sorted(names)
    with connection.cursor() as cursor:
        cursor.execute("select proname, prosrc, prosecdef from pg_proc where proname = any(%s)", [list(defined)])
        in_database = {name: (body, definer) for name, body, definer in cursor.fetchall()}
    assert in_database == {name: (body, False) for name, body in defined.items()}
