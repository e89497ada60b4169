"""static/js/say_once.js, run in node: what the camera check and the exam page say to a screen reader."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "static" / "js" / "say_once.js"


def _said(steps: list[tuple[int, str]]) -> list[str]:
    """What the region said, given (time in ms, text) in turn."""
    program = SCRIPT.read_text() + """
    let clock = 0; const said = [];
    const element = {set textContent(text) { said.push(text); }};
    const say = globalThis.OpenProctor.sayOnce(element, 30000, function () { return clock; });
    for (const [at, text] of STEPS) { clock = at; say(text); }
    console.log(JSON.stringify(said));
    """.replace("STEPS", json.dumps(steps))
    return json.loads(subprocess.run(["node", "-e", program], capture_output=True, text=True, check=True).stdout)


def test_each_thing_is_said_once_when_it_changes() -> None:
    assert _said([(0, "Look at the camera"), (2000, "Look at the camera"), (4000, "Turn left")]) == [
        "Look at the camera", "Turn left"]


def test_words_that_flicker_back_within_30_s_are_not_said_again() -> None:
    # A re-audit: a face in and out of view every frame had "Keep your face in view" said every two seconds.
    flicker = [(seconds * 1000, "Keep your face in view" if seconds % 4 == 0 else "") for seconds in range(0, 40, 2)]
    assert _said(flicker) == ["Keep your face in view", "Keep your face in view"]  # at 0 s and at 32 s
    assert _said([(0, "A"), (2000, "B"), (4000, "A"), (6000, "B"), (40000, "A")]) == ["A", "B", "A"]
