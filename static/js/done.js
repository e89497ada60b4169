// The session is over: answers the exam page kept on this device (shared computers) are no longer needed.
(function () {
  "use strict";
  const root = document.getElementById("session-done");
  if (!root) { return; }
  try { window.localStorage.removeItem("openproctor:answers:" + root.dataset.session); } catch (e) { /* disabled */ }
})();
