"""The suite's own scheduling (tests/conftest.py): under `--dist loadgroup`, as `make test`
runs it, every test past the unit tier is scheduled with its file's group (SPREAD files
excepted), so a file's module fixtures are built in one xdist process, not in each."""

from __future__ import annotations

import subprocess
import sys

from helpers import REPO

GROUPED = "tests/integration/test_lanes.py"
SPREAD = "tests/integration/test_quality.py"


def _scheduled_ids(*paths: str) -> list[str]:
    """The ids xdist's workers report, from a setup plan (no fixture or test runs)."""
    command = [sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadgroup", "-v"]
    command += ["--setup-plan", "-p", "no:cacheprovider", *paths]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode in (0, 5), done.stdout + done.stderr
    return [line.split()[0] for line in done.stdout.splitlines() if line.startswith("tests/")]


def test_loadgroup_schedules_a_file_as_one_group_and_spread_files_by_their_own_marks() -> None:
    ids = _scheduled_ids(GROUPED, SPREAD)
    grouped = [i for i in ids if i.startswith(GROUPED)]
    spread = [i for i in ids if i.startswith(SPREAD)]
    assert len(grouped) >= 2 and len(spread) >= 10, ids
    assert all(i.endswith("@test_lanes.py") for i in grouped), grouped
    # test_quality is spread, but both formats of one length share a process and a batch.
    assert any("@" not in i for i in spread), spread
    assert [i for i in spread if i.endswith("@test_quality-long")] == [
        f"{SPREAD}::test_lengths_and_formats[paragraph-long]@test_quality-long",
        f"{SPREAD}::test_lengths_and_formats[bullets-long]@test_quality-long",
    ]


def test_unit_files_that_mostly_wait_are_scheduled_before_the_rest_of_the_unit_tier() -> None:
    waiting, other = "tests/store/test_sentinel.py", "tests/store/test_keys.py"
    command = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"]
    done = subprocess.run(
        [*command, other, waiting], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    files = [line.split("::")[0] for line in done.stdout.splitlines() if "::" in line]
    assert files[0] == waiting and files[-1] == other, files
    assert files == sorted(files, key=lambda f: f != waiting), files  # none interleaved
