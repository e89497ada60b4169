"""static/js/say_once.js, run in node: what the camera check and the exam page say to a screen reader."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "static" / "js" / "say_once.js"


def _said(steps: list[tuple[int, str]], until: int | None = None) -> list[str]:
    """What the region was given, in turn ("" where it was emptied), for (time in ms, text) in turn; timers run on
    the test's clock, up to ``until``."""
    program = SCRIPT.read_text() + """
    let clock = 0; const said = [], timers = [];
    const element = {set textContent(text) { said.push(text); }};
    const say = globalThis.OpenProctor.sayOnce(element, 30000, {
      now: function () { return clock; },
      later: function (fn, ms) { timers.push({at: clock + ms, fn: fn}); return timers.length - 1; },
      cancel: function (id) { timers[id] = null; }});
    function runTo(at) {
      for (;;) {
        let next = -1;
        timers.forEach(function (t, i) { if (t && t.at <= at && (next < 0 || t.at < timers[next].at)) { next = i; } });
        if (next < 0) { break; }
        const t = timers[next]; timers[next] = null; clock = t.at; t.fn();
      }
      clock = at;
    }
    for (const [at, text] of STEPS) { runTo(at); say(text); }
    runTo(UNTIL);
    console.log(JSON.stringify(said));
    """.replace("STEPS", json.dumps(steps)).replace("UNTIL", str(until if until is not None else steps[-1][0]))
    return json.loads(subprocess.run(["node", "-e", program], capture_output=True, text=True, check=True).stdout)


def test_each_thing_is_said_once_when_it_changes() -> None:
    assert _said([(0, "Look at the camera"), (2000, "Look at the camera"), (4000, "Turn left")]) == [
        "Look at the camera", "Turn left"]


def test_words_that_flicker_back_within_30_s_are_not_said_again() -> None:
    # A re-audit: a face in and out of view every frame had "Keep your face in view" said every two seconds.
    flicker = [(seconds * 1000, "Keep your face in view" if seconds % 4 == 0 else "") for seconds in range(0, 40, 2)]
    said = [text for text in _said(flicker) if text]
    assert said == ["Keep your face in view", "Keep your face in view"]  # at 0 s and at 32 s
    assert _said([(0, "A"), (2000, "B"), (4000, "A"), (6000, "B"), (40000, "A")]) == ["A", "B", "A"]


def test_words_that_come_back_and_stay_are_said_again_once_they_hold() -> None:
    # A second re-audit: offline, back, offline again within 30 s: the region kept "Connected again" while offline.
    assert _said([(0, "Offline"), (5000, "Connected again"), (10000, "Offline")], until=20000) == [
        "Offline", "Connected again", "Offline"]
    assert _said([(0, "Offline"), (5000, "Connected again"), (10000, "Offline"), (11000, "Connected again")],
                 until=20000) == ["Offline", "Connected again"]  # back before it held: nothing more to say
