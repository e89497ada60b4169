// What a status region says to a screen reader: each thing once when it changes (a live region rewritten with the
// same words is read again). Words said within ``repeatMs`` are said again only once they have held for ``holdMs``:
// a check that flickers between two states (a face in and out of view every frame) had each said every two seconds
// (a re-audit as a screen-reader user), and a state that comes back and stays is still said (a second re-audit: the
// region kept "Connected again" while the page was offline again). Empty words empty the region (nothing stale is
// left to read). Used by check.js and exam.js; tested with node (tests/web/test_say_once.py).
(function (root) {
  "use strict";
  const OpenProctor = root.OpenProctor = root.OpenProctor || {};
  OpenProctor.sayOnce = function (element, repeatMs, options) {
    options = options || {};
    const now = options.now || Date.now, holdMs = options.holdMs || 3000;
    const later = options.later || function (fn, ms) { return setTimeout(fn, ms); };
    const cancel = options.cancel || function (id) { clearTimeout(id); };
    const saidAt = new Map();
    let current = "", spoken = "", timer = null;
    function speak(text) {
      spoken = text;
      saidAt.set(text, now());
      element.textContent = text;
    }
    return function say(text) {
      text = text || "";
      if (!element || text === current) { return; }
      current = text;
      if (timer !== null) { cancel(timer); timer = null; }
      if (!text) { spoken = ""; element.textContent = ""; return; }
      if (text === spoken) { return; }  // the region says it already
      const last = saidAt.get(text);
      if (last !== undefined && now() - last < repeatMs) {
        timer = later(function () { timer = null; if (current === text) { speak(text); } }, holdMs);
        return;
      }
      speak(text);
    };
  };
})(typeof window !== "undefined" ? window : globalThis);
