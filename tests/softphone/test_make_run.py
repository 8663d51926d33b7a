"""`make run` on a fresh machine, as a newcomer runs it: the launcher (what `make run` starts once the
install is done) with a var/ of its own (so a fresh embedded PostgreSQL, migrated and seeded), the
production web server, a worker per queue and beat. No vendor account: the demo lives on the built-in
simulated carrier. The test then does what README says: logs in as the demo agent to an inbox with the
demo's customers, plays a customer on the customer's phone page, sees the text arrive, replies, and sees
the reply reach the phone and its tick turn Delivered."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid

import pytest
import requests

from tests.softphone.test_checkouts import BASE_DIR, DEFAULT_REDIS, _env, _python


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def fresh_var_dir():
    """A var/ of its own under the checkout (the embedded server's system user cannot enter pytest's
    temporary directories); its PostgreSQL is stopped and the directory removed afterwards."""
    path = BASE_DIR / "var" / f"test-make-run-{uuid.uuid4().hex[:8]}"
    path.mkdir(parents=True)
    path.chmod(0o755)
    yield path
    _python(BASE_DIR, "from softphone import embedded; embedded.stop_database(); print('ok')",
            SOFTPHONE_VAR_DIR=str(path))
    subprocess.run(["rm", "-rf", str(path)], check=False)


class Launcher:
    def __init__(self, var_dir, port: int):
        self.url = f"http://127.0.0.1:{port}"
        self.lines: list[str] = []
        env = _env(SOFTPHONE_VAR_DIR=str(var_dir), PORT=str(port), REDIS_URL=os.environ.get("REDIS_URL", DEFAULT_REDIS),
                   REDIS_NAMESPACE=f"make-run-test-{uuid.uuid4().hex[:8]}")
        for name in ("DATABASE_URL", "SIMULATOR", "TWILIO_API_BASE_URL", "PUBLIC_BASE_URL"):
            env.pop(name, None)
        self.process = subprocess.Popen([sys.executable, "-m", "softphone.launcher"], cwd=BASE_DIR, env=env,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                        start_new_session=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.process.stdout:
            self.lines.append(line)

    def wait_for(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in line for line in self.lines):
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        pytest.fail(f"`make run` never said {text!r}:\n" + "".join(self.lines[-80:]))

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def _login(base: str, username: str, password: str) -> requests.Session:
    session = requests.Session()
    page = session.get(base + "/accounts/login/", timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    answer = session.post(base + "/accounts/login/", data={"username": username, "password": password,
                                                           "csrfmiddlewaretoken": token},
                          headers={"Referer": base + "/accounts/login/"}, timeout=10)
    assert answer.status_code == 200 and "Log out" in answer.text, answer.text[:500]
    return session


def test_make_run_on_a_fresh_machine_shows_the_whole_demo_working_without_any_vendor_account(fresh_var_dir):
    launcher = Launcher(fresh_var_dir, _free_port())
    try:
        launcher.wait_for("Softphone is running at", timeout=240)
        output = "".join(launcher.lines)
        assert "Log in as the demo owner:  owner / demo-owner-pass" in output
        assert "Twilio: the built-in simulated carrier" in output
        base = launcher.url

        # The demo agent lands on a logged-in inbox with the demo's customers.
        agent = _login(base, "agent", "demo-agent-pass")
        inbox = agent.get(base + "/o/demo/inbox/?view=all", timeout=10).text
        assert "Maria Lopez" in inbox and "Kenji Watanabe" in inbox, re.sub(r"\s+", " ", inbox)[:3000]

        # A customer texts the demo's number from the customer's phone page.
        owner = _login(base, "owner", "demo-owner-pass")
        phone = owner.get(base + "/simulator/phone/?me=%2B14155550188", timeout=10)
        offered = re.findall(r'<option value="(\+\d+)"', phone.text)
        assert offered[0] == "+14155550100" and len(offered) == 23  # the numbers that reach Softphone (the AI line among them)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', phone.text).group(1)
        sent = owner.post(base + "/simulator/phone/", data={"me": "+14155550188", "to": "+14155550100",
                                                            "body": "Hello from a new customer",
                                                            "csrfmiddlewaretoken": token},
                          headers={"Referer": base + "/simulator/phone/"}, allow_redirects=False, timeout=20)
        assert sent.status_code == 302, sent.text[:500]

        conversation = None
        for _ in range(50):
            inbox = agent.get(base + "/o/demo/inbox/?view=all", timeout=10).text
            found = re.search(r'id="row-([0-9a-f-]{36})"(?:(?!</li>).)*Hello from a new customer', inbox, re.S)
            if found:
                conversation = found.group(1)
                break
            time.sleep(0.2)
        assert conversation, "the customer's text never reached the inbox"

        # The agent replies; the reply reaches the phone and its tick turns Delivered.
        csrf = re.search(r'"X-CSRFToken": "([^"]+)"', inbox).group(1)
        reply = agent.post(base + f"/o/demo/inbox/c/{conversation}/send/", data={"body": "Welcome! How can we help?"},
                           headers={"HX-Request": "true", "X-CSRFToken": csrf, "Referer": base + "/o/demo/inbox/"},
                           timeout=20)
        assert reply.status_code == 201, reply.text[:500]
        ticks = []
        for _ in range(60):
            thread = owner.get(base + "/simulator/phone/thread/?me=%2B14155550188", timeout=10).text
            page = agent.get(base + f"/o/demo/inbox/?view=all&c={conversation}", timeout=10).text
            ticks = re.findall(r'class="tick[^"]*"[^>]*>([^<]+)<', page)
            if "Welcome! How can we help?" in thread and ticks and ticks[-1] == "Delivered":
                break
            time.sleep(0.25)
        else:
            pytest.fail(f"the reply did not arrive as delivered (ticks {ticks})")
    finally:
        launcher.stop()
    assert launcher.process.returncode in (0, -signal.SIGTERM), "".join(launcher.lines[-40:])
