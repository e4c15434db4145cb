"""The CLI shell: help without TensorFlow, user errors as one line, atomic writes."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

from docscan import atomic
from docscan.cli import COMMANDS, main
from docscan.errors import DocscanError


def test_help_lists_every_command():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for name in COMMANDS:
        assert name in result.output


def test_help_does_not_import_tensorflow():
    code = "import sys; from docscan.cli import main\n" \
           "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n" \
           "print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False"


def test_unknown_command_fails():
    result = CliRunner().invoke(main, ["no-such-command"])
    assert result.exit_code != 0


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.bin"
    with pytest.raises(RuntimeError):
        with atomic.atomic_path(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("boom")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_replaces_whole_file(tmp_path):
    target = tmp_path / "report.json"
    atomic.write_json(target, {"a": 1})
    atomic.write_json(target, {"b": 2})
    assert target.read_text().strip().endswith("}")
    assert '"b": 2' in target.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_atomic_write_impossible_directory(tmp_path):
    # A regular file where the output directory should be: fails for root too.
    blocker = tmp_path / "blocker"
    blocker.write_text("not a directory")
    with pytest.raises(DocscanError, match="blocker"):
        atomic.write_text(blocker / "sub" / "x.txt", "x")


def test_atomic_write_gives_ordinary_file_mode(tmp_path):
    import os
    import stat

    mask = os.umask(0o022)
    try:
        target = atomic.write_text(tmp_path / "m.txt", "x")
    finally:
        os.umask(mask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o644


def test_atomic_write_where_the_directory_is_a_file(tmp_path):
    blocker = tmp_path / "out"
    blocker.write_text("a file, not a directory")
    with pytest.raises(DocscanError, match="exists and is not a directory"):
        atomic.write_text(blocker / "x.txt", "x")
    assert blocker.read_text() == "a file, not a directory"


def test_models_and_runner_found_in_a_checkout_or_where_a_wheel_puts_them(tmp_path):
    from docscan.paths import beside_package

    repo, prefix = tmp_path / "repo", tmp_path / "prefix"
    installed = prefix / "share" / "docscan" / "models"
    installed.mkdir(parents=True)
    # no checkout copy: the wheel's
    assert beside_package("models", repo=repo, prefix=str(prefix)) == installed
    # a checkout (editable install) wins
    (repo / "models").mkdir(parents=True)
    assert beside_package("models", repo=repo, prefix=str(prefix)) == repo / "models"
    # neither: the checkout path, so the error names where models are expected
    assert beside_package("android_bench", repo=repo, prefix=str(prefix)) == repo / "android_bench"


def test_without_tensorflow_a_command_says_how_to_get_it(tmp_path):
    """TensorFlow is an extra (a user may bring their own): without it, one line and exit 2."""
    code = ("import sys; sys.modules['tensorflow'] = None\n"
            "from docscan.cli import main\n"
            f"main(['convert', 'mobilenet_v1', '--variant', 'fp32', '-o', {str(tmp_path)!r}])\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 2, out.stderr
    assert out.stderr.strip().splitlines() == [
        "error: TensorFlow is not installed; pip install 'docscan-tflite[cpu]' (or your own tensorflow >= 2.18)"]
    assert list(tmp_path.iterdir()) == []


def test_cache_folder_has_one_home(tmp_path, monkeypatch):
    from docscan.paths import cache_dir

    monkeypatch.setenv("DOCSCAN_CACHE", str(tmp_path))
    assert cache_dir() == tmp_path and cache_dir("rootfs-armhf") == tmp_path / "rootfs-armhf"
    monkeypatch.delenv("DOCSCAN_CACHE")
    assert cache_dir("x").parts[-3:] == (".cache", "docscan", "x")


def test_machine_description_names_cpu_cores_and_flags():
    from docscan.machine import describe_host, host_facts

    facts = host_facts()
    assert facts["cores"] >= 1 and facts["cpu"] and facts["arch"]
    line = describe_host()
    assert facts["cpu"] in line and f"{facts['cores']} cores" in line and "flags" in line
