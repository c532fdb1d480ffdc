"""`analyse --plan all` reports progress through a callback; the CLI renders it on stderr."""

from __future__ import annotations

import pytest

from cscvault.analysis.whole_plan import Steps
from cscvault.cli.output import analysis_progress


def test_steps_report_each_start_and_the_end() -> None:
    heard: list[tuple[str, int, int]] = []
    step = Steps(lambda what, done, total: heard.append((what, done, total)), ["a", "m10", "m20", "b"])
    step("a")
    step.skip("m10", "m20")  # nothing missing: no imputation
    step("b")
    step.finish()
    assert heard == [("a", 0, 4), ("b", 1, 2), ("done", 2, 2)]


def test_steps_without_a_callback_do_nothing() -> None:
    step = Steps(None, ["a"])
    step("a")
    step.finish()
    assert step.done == 1


def test_cli_prints_one_plain_line_per_step_on_stderr_when_not_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    with analysis_progress("analyse") as advance:
        advance("small-cluster inference", 3, 8)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "analyse: [3/8] small-cluster inference\n"
