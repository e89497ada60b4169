// What a status region says to a screen reader: each thing once when it changes (a live region rewritten with the
// same words is read again), and words that come back within ``repeatMs`` of being said are not said again: a check
// that flickers between two states (a face in and out of view every frame) had each said every two seconds (a
// re-audit as a screen-reader user). Used by check.js and exam.js; tested with node (tests/web/test_say_once.py).
(function (root) {
  "use strict";
  const OpenProctor = root.OpenProctor = root.OpenProctor || {};
  OpenProctor.sayOnce = function (element, repeatMs, now) {
    const saidAt = new Map();
    let current = "";
    now = now || Date.now;
    return function say(text) {
      if (!text) { current = ""; return false; }
      if (!element || text === current) { return false; }
      current = text;
      const at = now(), last = saidAt.get(text);
      if (last !== undefined && at - last < repeatMs) { return false; }
      saidAt.set(text, at);
      element.textContent = text;
      return true;
    };
  };
})(typeof window !== "undefined" ? window : globalThis);
