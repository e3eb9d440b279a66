"""A run that asked for verdicts (a live comparison, --rnnbench-require-baseline) and judged no
case fails with exit status 10, as the gate does; one that asked for none passes its skips.

An interpreter path mistyped in a CI job skipped every case and exited 0, under
--rnnbench-require-baseline too: green, having measured nothing. (No worker starts here: the
interpreter does not exist.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_rnnbench.session.lifecycle import EXIT_NOTHING_JUDGED

SKIPPED_ALL = [
    "--rnnbench-backends=torch",
    "--rnnbench-datasets=synthetic",
    "--rnnbench-python=torch=/no/such/python",
]


@pytest.mark.parametrize(
    ("asked", "said"),
    [
        ([], None),
        (["--rnnbench-require-baseline"], "--rnnbench-require-baseline"),
        ([f"--rnnbench-against={Path('/no/such/reference')}"], "--rnnbench-against"),
    ],
    ids=["nothing asked", "require-baseline", "live"],
)
def test_a_run_that_asked_for_verdicts_and_judged_none_fails(
    pytester: pytest.Pytester, tmp_path: Path, asked: list[str], said: str
) -> None:
    pytester.makepyfile("def test_x(rnnbench):\n    rnnbench()\n")
    comment = tmp_path / "comment.md"
    result = pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", *SKIPPED_ALL, *asked, f"--rnnbench-comment={comment}"
    )
    text = result.stdout.str()
    if said is None:
        assert result.ret == pytest.ExitCode.OK, text
        assert "judged no case" not in comment.read_text() and "exit status 10" not in text
        return
    assert result.ret == EXIT_NOTHING_JUDGED, text
    result.stdout.fnmatch_lines(
        [
            f"rnnbench: no case was judged, which {said} asks for: nothing was measured "
            "(1 skipped); exit status 10"
        ]
    )
    assert "**The run fails**: it judged no case (exit status 10)." in comment.read_text()
