"""`ruff check` (rules and scope in pyproject.toml's [tool.ruff]) is part of the README's test command."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _ruff() -> list[str]:
    exe = Path(sys.executable).with_name("ruff")
    if exe.exists():
        return [str(exe)]
    if shutil.which("ruff"):
        return ["ruff"]
    pytest.fail("ruff is not installed: it is in the test extras (pip install -e '.[test]')")


def test_ruff_is_clean():
    done = subprocess.run([*_ruff(), "check", "--no-cache", "partreid_core", "tests", "notebooks"], cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


def test_ruff_catches_an_undefined_name(tmp_path):
    """The rules are live: a file with an undefined name and an unused import fails them."""
    bad = tmp_path / "bad.py"
    bad.write_text("import os\n\n\ndef f():\n    return undefined_name\n")
    done = subprocess.run([*_ruff(), "check", "--no-cache", "--config", str(ROOT / "pyproject.toml"), str(bad)],
                          cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 1 and "F821" in done.stdout and "F401" in done.stdout, done.stdout
