"""`hipcam evaluate` on bad input: one line, exit 2, never a traceback; and its JSON output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from paths import REPO

from hipcam.commands.cli import main

HOME_TRUTH = REPO / "tests" / "data" / "truth" / "treadmill_home_side.truth.json"


@pytest.mark.parametrize(
    ("truth", "analysis", "message"),
    [
        ("{", '{"fps": 30, "events": [], "strides": []}', "not valid JSON"),
        (None, "{", "not an analysis JSON"),
        (None, '{"events": []}', "not an analysis JSON"),
        (None, '{"fps": "fast", "events": [], "strides": []}', "is not a frame rate"),
    ],
)
def test_bad_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], truth: str | None, analysis: str, message: str
) -> None:
    truth_path = HOME_TRUTH if truth is None else tmp_path / "t.json"
    if truth is not None:
        truth_path.write_text(truth)
    (tmp_path / "a.json").write_text(analysis)
    assert main(["evaluate", str(truth_path), str(tmp_path / "a.json")]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_json_output(tmp_path: Path) -> None:
    analysis = {"fps": 30.0, "events": [{"frame": 17, "leg": "left", "type": "foot_strike"}], "strides": [],
                "summary": {"cadence_spm": 170.0}}  # fmt: skip
    (tmp_path / "a.json").write_text(json.dumps(analysis))
    assert main(["evaluate", str(HOME_TRUTH), str(tmp_path / "a.json"), "--json", str(tmp_path / "e.json")]) == 0
    out = json.loads((tmp_path / "e.json").read_text())
    strikes = next(e for e in out["events"] if e["type"] == "foot_strike")
    assert strikes["found"] == 1 and strikes["labelled"] == 33 and out["cadence_spm"] == 170.0
