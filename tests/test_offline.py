"""No network call anywhere: search runs with networking cut off and every connect attempt recorded."""
from __future__ import annotations

import json
import os
import shutil
import subprocess


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
