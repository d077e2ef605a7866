"""Which llama.cpp build the in-process engine loads (answer/native.py), and the build itself on the model.

The choice is read from the cache folder: a build counts only when it is complete and was made for this CPU
(an instruction another CPU lacks would crash the process), and 'native' without one is a clear error."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from answer import native
from config import SettingsError
from errors import UserError
from prompts import message
from service import settings_from
from tests.conftest import ROOT


def fake_build(folder, files=native.LIBRARIES + ("built.json",)):
    folder.mkdir(parents=True)
    for name in files:
        (folder / name).write_bytes(b"")


def test_without_a_build_the_wheel_is_used(tmp_path):
    choice = native.choose(tmp_path)
    assert choice.library is None and not choice.int8 and "wheel" in choice.why


def test_a_complete_build_for_this_cpu_is_used_and_wheel_overrides_it(tmp_path):
    fake_build(native.build_dir(tmp_path))
    choice = native.choose(tmp_path)
    assert choice.library == native.build_dir(tmp_path) / "libllama.so"
    assert choice.int8 == all(f in native.cpu_flags() for f in native.FAST_INT8)
    assert native.choose(tmp_path, "wheel").library is None


def test_a_build_for_another_cpu_or_a_half_build_is_ignored(tmp_path):
    other = native.build_dir(tmp_path).with_name("ik-0.1.5-000000000000")
    fake_build(other)
    assert native.choose(tmp_path).library is None
    fake_build(native.build_dir(tmp_path), files=native.LIBRARIES)  # no built.json: it never finished
    assert native.choose(tmp_path).library is None


def test_native_without_a_build_is_a_clear_error_in_both_languages(tmp_path):
    with pytest.raises(UserError) as err:
        native.choose(tmp_path, "native")
    assert "setup.sh" in str(err.value) and "no build for this CPU" in str(err.value)
    assert err.value.key == "no_native_engine" and "setup.sh" in err.value.dutch
    assert err.value.dutch == message("errors.no_native_engine")


def test_without_a_compiler_the_build_says_why_and_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no cmake, no c++
    with pytest.raises(RuntimeError, match="cmake, c\\+\\+ not found"):
        native.build(tmp_path / "cache")
    assert native.choose(tmp_path / "cache").library is None and not (tmp_path / "cache" / "engine").exists()


def test_engine_build_is_a_checked_setting():
    assert settings_from({}, environ={"VRAAGBAAK_ENGINE_BUILD": "native"}).engine_build == "native"
    with pytest.raises(SettingsError):
        settings_from({}, environ={"VRAAGBAAK_ENGINE_BUILD": "fastest"})


@pytest.mark.llm
def test_the_build_for_this_cpu_answers_long_prompts_like_the_wheel(settings):
    """In its own process (a process holds one library): the build setup.sh made, with the weights it chose,
    reads a prompt of ~3,000 tokens and answers a plain question as the wheel does."""
    if native.built_library(ROOT / ".cache") is None:
        pytest.skip("no engine build for this CPU in .cache (setup.sh makes one where cmake and c++ exist)")
    script = """
import json, sys
from answer.llamacpp import Engine
from answer.llm import Timing
from answer.native import engine_for
from config import load_settings
s = load_settings({"engine_build": sys.argv[1], "cache_dir": sys.argv[2]})
path, choice = engine_for(s)
e = Engine(path, threads=s.threads, ctx=4096, library=choice.library)
def ask(text, n=8):
    t = Timing()
    out = "".join(e.generate([{"role": "user", "content": text}], n, t))
    return out, t.prompt_tokens
short, _ = ask("Wat is de hoofdstad van Nederland? Antwoord in één woord.")
filler = "In de wijk helpen sociaal werkers bewoners met hun vragen over geld, wonen en werk. " * 110
long, n = ask(filler + "Waarover helpen de sociaal werkers? Antwoord kort.", 12)
e.close()
print(json.dumps({"short": short, "long": long, "long_tokens": n, "library": str(choice.library),
                  "model": path.name}))
"""
    out = {}
    for build in ("native", "wheel"):
        done = subprocess.run([sys.executable, "-c", script, build, str(ROOT / ".cache")], capture_output=True,
                              text=True, cwd=ROOT, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
        out[build] = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["native"]["library"].startswith(str(ROOT / ".cache" / "engine"))
    assert out["wheel"]["library"] == "None"
    assert out["native"]["long_tokens"] > 2500
    assert "Amsterdam" in out["native"]["short"] and "Amsterdam" in out["wheel"]["short"]
    assert any(w in out["native"]["long"].lower() for w in ("geld", "wonen", "werk"))


@pytest.mark.llm
def test_a_build_that_does_not_load_falls_back_to_the_wheel(tmp_path):
    """A damaged build (here: empty library files) is logged and the app answers on the wheel; with
    engine_build=native it is an error instead. In its own process: a process holds one library."""
    cache = tmp_path / "cache"
    (cache / "models").parent.mkdir(parents=True)
    (cache / "models").symlink_to(ROOT / ".cache" / "models", target_is_directory=True)
    script = """
import json, logging, sys
logging.basicConfig(level=logging.ERROR, format="%(message)s")
from answer.backends.llamacpp import load
from config import load_settings
s = load_settings({"cache_dir": sys.argv[1], "engine_build": sys.argv[2]})
llm = load(s)
print(json.dumps({"name": llm.name, "reply": llm.complete([{"role": "user", "content":
      "Wat is de hoofdstad van Nederland? Eén woord."}], max_tokens=6)}))
"""
    def run(build: str):
        return subprocess.run([sys.executable, "-c", script, str(cache), build], capture_output=True, text=True,
                              cwd=ROOT, timeout=600)

    fake_build(native.build_dir(cache))
    auto = run("auto")
    assert auto.returncode == 0, auto.stderr[-3000:]
    out = json.loads(auto.stdout.strip().splitlines()[-1])
    assert "did not load" in auto.stderr and "prebuilt wheel" in auto.stderr
    assert out["name"].endswith("q4_k_m.gguf") and "Amsterdam" in out["reply"]
    strict = run("native")
    assert strict.returncode != 0 and "OSError" in strict.stderr
