import os
import sys

sys.path.insert(0, os.path.dirname(__file__))  # tests/browser.py

import tempfile

import pytest
import torch

# Training in tests must never touch a real run's checkpoint (checkpoints/<root>-<hash>/<experiment>/<run>/last.pt
# under the checkout): relative checkpoint folders go under a throw-away directory instead
# (engine.trainer.checkpoint_path).
os.environ["PARTREID_CHECKPOINTS"] = tempfile.mkdtemp(prefix="partreid-test-checkpoints-")

# One intra-op thread: on 2 shared cores, two threads per test process mostly wait on each other.
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(scope="session")
def built_book(tmp_path_factory):
    """Build the book once per session with warnings as errors; returns (html_dir, build_log).

    ``PARTREID_BUILT_BOOK=<dir>/_build/html`` checks a book built already (with ``-W``) instead of building one."""
    import subprocess
    import sys
    from pathlib import Path

    if os.environ.get("PARTREID_BUILT_BOOK"):
        return Path(os.environ["PARTREID_BUILT_BOOK"]), ""

    root = Path(__file__).resolve().parents[1]
    out = tmp_path_factory.mktemp("book")
    jb = Path(sys.executable).parent / "jupyter-book"
    proc = subprocess.run([str(jb), "build", str(root / "book"), "-W", "-n", "--keep-going",
                           "--path-output", str(out)], capture_output=True, text=True, timeout=3000)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, "book build failed:\n" + log[-6000:]
    return out / "_build" / "html", log
