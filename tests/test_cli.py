import subprocess
import sys

from partreid_core.cli import build_parser, main


def test_help_lists_program():
    out = subprocess.run([sys.executable, "-m", "partreid_core.cli", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "partreid" in out.stdout


def test_unknown_command_fails():
    import pytest
    with pytest.raises(SystemExit) as e:
        main(["no-such-command"])
    assert e.value.code == 2
    assert build_parser().prog == "partreid"
