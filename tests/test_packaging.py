"""Packaging and environment contracts: what `import scratch` pulls in, what pyproject.toml pins,
the two-command README, the Makefile/CI entry points, and the BLAS thread helpers.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import textwrap
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("tensorflow", "keras", "tf_keras", "matplotlib", "sklearn", "torch", "jax")


def _loaded_after(code: str) -> list[str]:
    """Run `code` in a fresh interpreter and return the heavy modules it left in sys.modules."""
    probe = textwrap.dedent(code) + textwrap.dedent(
        f"""
        import json, sys
        heavy = {HEAVY!r}
        print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in heavy)))
        """
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def _walk(package: str) -> str:
    """Code that imports `package` and every submodule in it (but `__main__`)."""
    return f"""
        import importlib, pkgutil
        import {package}
        for info in pkgutil.walk_packages({package}.__path__, "{package}."):
            if not info.name.endswith("__main__"):
                importlib.import_module(info.name)
    """


# ---------------------------------------------------------------------------------------------
# Imports


def test_import_scratch_imports_no_tensorflow_and_no_plotting():
    assert _loaded_after("import scratch") == []


def test_import_scratch_imports_h5py_only_when_a_file_is_used():
    """h5py is an engine dependency, but `import scratch` does not pay for it."""
    code = ("import sys, scratch; print('h5py' in sys.modules); "
            "import scratch.saving; print('h5py' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False"]


def test_every_scratch_module_imports_without_tensorflow():
    # ARCHITECTURE.md: everything under scratch/ depends on NumPy, SciPy and Numba only.
    assert _loaded_after(_walk("scratch")) == []


def test_keras_ref_imports_tensorflow_lazily():
    # keras_ref may use TensorFlow, but only inside functions: importing it costs nothing.
    assert _loaded_after(_walk("keras_ref")) == []


def test_the_probe_does_see_heavy_imports():
    # Guards the tests above against a probe that could never report anything.
    assert "json" not in HEAVY
    assert "matplotlib" in _loaded_after("import matplotlib")


# ---------------------------------------------------------------------------------------------
# pyproject.toml


@pytest.fixture(scope="module")
def pyproject() -> dict:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)


def _requirements(pyproject, extra=None) -> dict[str, Requirement]:
    project = pyproject["project"]
    lines = project["dependencies"] if extra is None else project["optional-dependencies"][extra]
    reqs = [Requirement(line) for line in lines]
    return {r.name.lower().replace("_", "-"): r for r in reqs}


def test_project_metadata(pyproject):
    project = pyproject["project"]
    assert project["name"] == "scratch"
    assert project["version"] == "0.1.0"
    assert project["requires-python"] == ">=3.11"
    include = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    assert {"scratch", "scratch.*", "keras_ref", "keras_ref.*"} <= set(include)


def test_core_dependencies_are_the_engine_only(pyproject):
    core = _requirements(pyproject)
    # h5py: model files (.keras, .weights.h5, .h5) are part of the engine.
    assert set(core) == {"numpy", "scipy", "numba", "threadpoolctl", "h5py"}
    assert core["numpy"].specifier.contains("2.4.0")
    assert not core["numpy"].specifier.contains("1.26.4")


def test_tensorflow_is_pinned_to_one_minor_version(pyproject):
    tf = _requirements(pyproject, "tf")
    spec = tf["tensorflow-cpu"].specifier
    assert str(spec) == "==2.21.*"
    assert spec.contains("2.21.0") and spec.contains("2.21.3")
    assert not spec.contains("2.20.0") and not spec.contains("2.22.0")
    assert tf["keras"].specifier.contains("3.15.1")
    assert not tf["keras"].specifier.contains("3.16.0")
    assert {"pytest", "hypothesis"} <= set(_requirements(pyproject, "test"))
    assert {"matplotlib", "scikit-learn"} <= set(_requirements(pyproject, "examples"))


@pytest.mark.parametrize("extra", [None, "test", "tf"])
def test_installed_versions_satisfy_pyproject(pyproject, extra):
    """The environment running the tests is the one pyproject.toml describes."""
    for name, req in _requirements(pyproject, extra).items():
        try:
            version = metadata.version(name)
        except metadata.PackageNotFoundError:
            pytest.fail(f"{name} is required by pyproject.toml ({req}) but not installed")
        assert req.specifier.contains(version, prereleases=True), f"{name} {version} vs {req}"


def test_pytest_configuration(pyproject):
    ini = pyproject["tool"]["pytest"]["ini_options"]
    assert ini["testpaths"] == ["tests"]
    assert ini["pythonpath"] == ["."]
    markers = {m.split(":")[0] for m in ini["markers"]}
    assert {"slow", "parity", "unit"} <= markers
    assert pyproject["tool"]["ruff"]["line-length"] == 100


def test_no_package_index_is_hardcoded():
    # pip's index comes from each machine's own configuration.
    for name in ("pyproject.toml", "Makefile", ".ci/run"):
        text = (ROOT / name).read_text()
        assert not re.search(r"index-url|--index|--find-links|https?://", text), name


# ---------------------------------------------------------------------------------------------
# README, Makefile, CI


def test_readme_starts_with_the_two_commands():
    readme = ROOT / "README.md"
    assert readme.exists(), "README.md is missing"
    blocks = re.findall(r"^```[^\n]*\n(.*?)^```", readme.read_text(), flags=re.S | re.M)
    assert blocks, "README.md has no fenced code block"
    first = blocks[0]
    assert "make demo" in first and "make test" in first, first


def _make_dry_run(target: str) -> str:
    out = subprocess.run(
        ["make", "--dry-run", "--always-make", target],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_makefile_targets():
    venv = _make_dry_run("venv")
    assert "-m venv .venv" in venv
    assert "pip install" in venv and "-e '.[tf,test,examples]'" in venv
    assert ".venv/bin/python -m scratch warmup" in venv
    demo = _make_dry_run("demo")
    assert ".venv/bin/python -m scratch demo" in demo and "pip install" in demo
    test = _make_dry_run("test")
    assert ".venv/bin/python -m pytest -q --durations=15 tests" in test
    assert ".venv/bin/python benchmarks/run.py" in _make_dry_run("bench")
    for target in ("examples", "clean"):
        _make_dry_run(target)


def test_makefile_venv_is_a_stamp_on_pyproject():
    text = (ROOT / "Makefile").read_text()
    assert re.search(r"^\$\(STAMP\): pyproject\.toml$", text, flags=re.M)
    # and the Numba kernels warmed up into this checkout's cache (its own stamp, beside it)
    assert re.search(r"^venv: \$\(STAMP\) \$\(WARM\)$", text, flags=re.M)
    assert re.search(r"^\$\(WARM\): \$\(STAMP\)", text, flags=re.M)
    assert "rm -rf .venv" not in text.replace("(rm -rf .venv)", "")  # never deletes the venv


def _fake_ci(tmp_path: Path, test_rc: int, venv_rc: int = 0,
             tiers_rc: int = 0) -> subprocess.CompletedProcess:
    """Run .ci/run in a copy of the repository whose `make` only pretends."""
    repo = tmp_path / "repo"
    (repo / ".ci").mkdir(parents=True)
    (repo / ".ci" / "run").write_bytes((ROOT / ".ci" / "run").read_bytes())
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    make = bin_dir / "make"
    make.write_text(
        "#!/usr/bin/env bash\n"
        'if [[ "${1:-}" == --version ]]; then echo "GNU Make (fake)"; exit 0; fi\n'
        'if [[ "${1:-}" == venv ]]; then\n'
        "  mkdir -p .venv/bin\n"
        f"  printf '#!/bin/sh\\nexec {sys.executable} \"$@\"\\n' > .venv/bin/python\n"
        f"  chmod +x .venv/bin/python; exit {venv_rc}\n"
        "fi\n"
        f'if [[ "${{1:-}}" == test ]]; then echo "make test ran"; exit {test_rc}; fi\n'
        f'if [[ "${{1:-}}" == test-tiers ]]; then echo "make test-tiers ran"; exit {tiers_rc}; fi\n'
        'if [[ "${1:-}" == test-readable ]]; then echo "make test-readable ran"; exit 0; fi\n'
        "exit 99\n"
    )
    make.chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(ROOT),
    }
    return subprocess.run(
        ["bash", str(repo / ".ci" / "run")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_ci_script_is_strict_and_executable():
    ci = ROOT / ".ci" / "run"
    assert ci.stat().st_mode & stat.S_IXUSR
    text = ci.read_text()
    assert text.startswith("#!/usr/bin/env bash\n") or text.startswith("#!/bin/bash\n")
    assert "set -euo pipefail" in text
    assert re.search(r"^make test$", text, flags=re.M)


@pytest.mark.parametrize("test_rc", [0, 1, 2])
def test_ci_script_exit_code_follows_make_test(tmp_path, test_rc):
    out = _fake_ci(tmp_path, test_rc)
    assert "make test ran" in out.stdout, out.stdout + out.stderr
    assert "python" in out.stdout and "pip" in out.stdout
    assert ("BLAS:" in out.stdout) and ("thread" in out.stdout)
    assert "CPU tier: NumPy dispatch" in out.stdout
    assert out.returncode == test_rc, out.stdout + out.stderr
    assert ("make test-tiers ran" in out.stdout) == (test_rc == 0)


@pytest.mark.parametrize("tiers_rc", [0, 1])
def test_ci_script_runs_the_tier_suites_after_make_test(tmp_path, tiers_rc):
    out = _fake_ci(tmp_path, 0, tiers_rc=tiers_rc)
    assert out.stdout.index("make test ran") < out.stdout.index("make test-tiers ran")
    assert ("make test-readable ran" in out.stdout) == (tiers_rc == 0)
    assert out.returncode == tiers_rc, out.stdout + out.stderr


# ---------------------------------------------------------------------------------------------
# scratch._threads


def test_blas_info_lists_the_loaded_blas_libraries():
    from scratch._threads import blas_info

    infos = blas_info()
    assert infos, "no BLAS library found"
    for info in infos:
        assert {"internal_api", "version", "num_threads", "architecture", "owner"} <= set(info)
        assert isinstance(info["num_threads"], int) and info["num_threads"] >= 1
    assert "numpy" in {info["owner"] for info in infos}


def test_blas_threads_limits_then_restores():
    from scratch._threads import blas_info, blas_threads

    before = [info["num_threads"] for info in blas_info()]
    with blas_threads(1):
        assert all(info["num_threads"] == 1 for info in blas_info())
    assert [info["num_threads"] for info in blas_info()] == before


def test_limit_blas_threads_is_global_until_restored():
    from scratch._threads import blas_info, limit_blas_threads

    before = [info["num_threads"] for info in blas_info()]
    limiter = limit_blas_threads(1)
    try:
        assert all(info["num_threads"] == 1 for info in blas_info())
    finally:
        limiter.restore_original_limits()
    assert [info["num_threads"] for info in blas_info()] == before


def test_describe_blas_is_one_readable_line():
    from scratch._threads import blas_threads, describe_blas

    with blas_threads(1):
        text = describe_blas()
    assert "\n" not in text
    assert re.search(r"(OpenBLAS|MKL|BLIS|FlexiBLAS) \S+", text), text
    assert re.search(r", 1 thread\b", text) and "1 threads" not in text, text


class _FakeClock:
    """Stands in for the `time` module in scratch._threads: monotonic and process_time."""

    def __init__(self):
        self.now, self.cpu = 0.0, 0.0

    def monotonic(self):
        return self.now

    def process_time(self):
        return self.cpu


@pytest.fixture
def load_reader(monkeypatch):
    """scratch._threads reading a scripted machine: set clock.now / clock.cpu and
    machine["busy"] (CPU seconds all cores spent busy), on 2 CPUs, with a fresh reading."""
    from scratch import _threads

    clock, machine = _FakeClock(), {"busy": 0.0}
    monkeypatch.setattr(_threads, "time", clock)
    monkeypatch.setattr(_threads, "_busy_seconds", lambda: machine["busy"])
    monkeypatch.setattr(_threads, "_cpu_count", lambda: 2)
    for name, value in (("time", None), ("busy", 0.0), ("own", 0.0), ("spare", False)):
        monkeypatch.setattr(_threads._Load, name, value)
    return _threads, clock, machine


def test_spare_core_counts_other_processes_cpu_time(load_reader):
    threads, clock, machine = load_reader
    assert threads.spare_core() is False  # the first reading: no window behind it yet
    # 0.5 s later: the machine was busy 0.5 CPU-s, 0.45 of them ours → others 0.05 core·s
    clock.now, clock.cpu, machine["busy"] = 0.5, 0.45, 0.5
    assert threads.spare_core() is True
    # inside the window the reading is kept, whatever happens meanwhile
    clock.now, machine["busy"] = 0.6, 5.0
    assert threads.spare_core() is True
    # another process held a core for the next 0.5 s (we used 0.45 s of the other)
    clock.now, clock.cpu, machine["busy"] = 1.0, 0.9, 1.45
    assert threads.spare_core() is False
    # and left: our own two BLAS threads' time does not count as others'
    clock.now, clock.cpu, machine["busy"] = 1.5, 1.8, 2.37
    assert threads.spare_core() is True


def test_spare_core_without_a_load_reading_keeps_the_size_rule(load_reader, monkeypatch):
    threads, _, _ = load_reader
    monkeypatch.setattr(threads, "_busy_seconds", lambda: None)
    assert threads.spare_core() is True
    assert threads.engine_blas_threads(threads.AUTO_TWO_THREADS_WORK) == 2


def test_busy_seconds_reads_this_machine():
    from scratch import _threads

    busy = _threads._busy_seconds()
    if not Path("/proc/stat").exists():
        assert busy is None
    else:
        assert isinstance(busy, float) and busy > 0


def test_busy_ticks_count_only_the_cores_this_process_may_use():
    from scratch._threads import _busy_ticks

    stat = (b"cpu  60 1 30 900 5 0 2 7 0 0\n"
            b"cpu0 10 0 5 450 2 0 1 3 0 0\n"
            b"cpu1 50 1 25 450 3 0 1 4 0 0\n"
            b"intr 12345 0 0\nctxt 999\nbtime 1\n")
    assert _busy_ticks(stat, None) == (10 + 5 + 1 + 3) + (50 + 1 + 25 + 1 + 4)
    assert _busy_ticks(stat, frozenset({1})) == 50 + 1 + 25 + 1 + 4  # idle, iowait left out
    assert _busy_ticks(stat, frozenset({7})) == 0


def test_engine_blas_threads_auto_needs_work_and_a_spare_core(monkeypatch):
    from scratch import _threads

    spare = {"value": True}
    monkeypatch.setattr(_threads, "spare_core", lambda: spare["value"])
    monkeypatch.setattr(_threads, "_cpu_count", lambda: 2)
    big = _threads.AUTO_TWO_THREADS_WORK
    assert _threads.engine_blas_threads(big - 1) == 1
    assert _threads.engine_blas_threads(big) == 2
    spare["value"] = False
    assert _threads.engine_blas_threads(big) == 1
    monkeypatch.setattr(_threads, "_cpu_count", lambda: 1)
    spare["value"] = True
    assert _threads.engine_blas_threads(big) == 1
    monkeypatch.setattr(_threads, "_ENGINE_THREADS", 3)
    assert _threads.engine_blas_threads(0) == 3


def test_engine_scope_follows_the_load_then_restores_the_limits(monkeypatch):
    from scratch import _threads

    spare = {"value": True}
    monkeypatch.setattr(_threads, "spare_core", lambda: spare["value"])
    monkeypatch.setattr(_threads, "_cpu_count", lambda: 2)

    def counts():
        return [info["num_threads"] for info in _threads.blas_info()]

    with _threads.blas_threads(1):
        with _threads.engine_threads(_threads.AUTO_TWO_THREADS_WORK):
            assert set(counts()) == {2}
            spare["value"] = False
            _threads.refresh_engine_threads()
            assert set(counts()) == {1}
            spare["value"] = True
            _threads.refresh_engine_threads()
            assert set(counts()) == {2}
        assert set(counts()) == {1}
        _threads.refresh_engine_threads()  # outside any engine scope: nothing to follow
        assert set(counts()) == {1}


def test_training_loops_follow_the_load_every_batch(monkeypatch):
    import numpy as np

    import scratch
    from scratch.models import training

    calls = []
    monkeypatch.setattr(training, "refresh_engine_threads", lambda: calls.append(1))
    model = scratch.Sequential([scratch.layers.Input((3,)), scratch.layers.Dense(1)])
    model.compile(loss="mse", optimizer="sgd")
    x, y = np.zeros((10, 3)), np.zeros(10)
    model.fit(x, y, batch_size=4, epochs=2, verbose=0)
    assert len(calls) == 6
    model.evaluate(x, y, batch_size=5, verbose=0)
    model.predict(x, batch_size=5, verbose=0)
    assert len(calls) == 10


@pytest.mark.parametrize("n", [0, -1, 1.5, True, "2", None])
def test_thread_counts_must_be_positive_integers(n):
    from scratch._threads import blas_threads, limit_blas_threads

    with pytest.raises(ValueError, match=re.escape(f"Received: n={n!r}")):
        limit_blas_threads(n)
    with pytest.raises(ValueError, match="positive integer"):
        with blas_threads(n):
            pass


def test_ci_script_stops_when_the_install_fails(tmp_path):
    out = _fake_ci(tmp_path, test_rc=0, venv_rc=3)
    assert out.returncode != 0
    assert "make test ran" not in out.stdout
