"""No network call anywhere: search runs with networking cut off and every connect attempt recorded, and a whole
question goes through the page (app, model, Chromium) in a namespace that has only loopback."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import PYTHON, ROOT

GUARD = '''
import os, socket
_log = os.environ["NET_GUARD_LOG"]
def _deny(*args, **kwargs):
    with open(_log, "a") as fh:
        fh.write(repr(args[1:] if args and isinstance(args[0], socket.socket) else args) + "\\n")
    raise OSError("network blocked by test")
socket.socket.connect = _deny
socket.socket.connect_ex = _deny
socket.create_connection = _deny
socket.getaddrinfo = _deny
'''


def _unshare_works() -> bool:
    return shutil.which("unshare") is not None and subprocess.run(
        ["unshare", "-n", "true"], capture_output=True).returncode == 0


def test_search_makes_no_network_call(seed_index, cache_dir, tmp_path):
    (tmp_path / "sitecustomize.py").write_text(GUARD)
    log = tmp_path / "net.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TRANSFORMERS_"))}
    env.update(PYTHONPATH=str(tmp_path), NET_GUARD_LOG=str(log), VRAAGBAAK_CACHE_DIR=str(cache_dir))
    prefix = ["unshare", "-n"] if _unshare_works() else []
    out = subprocess.run([*prefix, PYTHON, str(ROOT / "app.py"), "search", "Wat is hybriditeit?", "--json"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["passages"]
    assert not log.exists(), f"network attempts: {log.read_text()}"


def _loopback_namespace_works() -> bool:
    return shutil.which("unshare") is not None and shutil.which("ip") is not None and subprocess.run(
        ["unshare", "-rn", "sh", "-c", "ip link set lo up"], capture_output=True).returncode == 0


@pytest.mark.llm
@pytest.mark.browser
@pytest.mark.skipif(not _loopback_namespace_works(), reason="needs unshare -rn and ip (iproute2)")
def test_a_full_question_through_the_page_with_networking_cut_off(seed_index, cache_dir, tmp_path):
    """App, model and Chromium in a network namespace that has only loopback: the answer comes, cited."""
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("Debian's chromium is not installed (run-tests.sh installs it)")
    out, shot = tmp_path / "offline.json", ROOT / "docs" / "screenshots" / "offline.png"
    run = subprocess.run(["unshare", "-rn", "sh", "-c", f"ip link set lo up && exec {PYTHON} "
                          f"{ROOT / 'tests' / 'offline_page.py'} {cache_dir} {out} {shot}"],
                         capture_output=True, text=True, timeout=420, cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(out.read_text(encoding="utf-8"))
    assert result["outside"].startswith("blocked"), result["outside"]  # the namespace really is cut off
    assert "30" in result["answer"] and result["citations"] >= 1, result
    assert "30 jaar" in result["sources"]
    external = [u for u in result["requests"] if not u.startswith(("http://127.0.0.1", "data:", "blob:"))]
    assert not external, external
