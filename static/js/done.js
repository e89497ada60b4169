// The session is over. Answers the exam page kept on this device while offline (given before the deadline) are sent
// now, with when they were given: the server takes them for a few minutes after the deadline (exams.taking.
// LATE_ANSWERS); once sent or refused they are no longer needed (shared computers). Removed unsent, an audit's
// student lost the answers typed in the last minute of an outage while this page said they were kept.
(function () {
  "use strict";
  const root = document.getElementById("session-done");
  if (!root) { return; }
  const session = root.dataset.session, key = "openproctor:answers:" + session;
  let pending = {}, givenAt = {};
  try {
    pending = JSON.parse(window.localStorage.getItem(key) || "{}") || {};
    givenAt = JSON.parse(window.localStorage.getItem(key + ":at") || "{}") || {};
  } catch (e) { pending = {}; }

  function forget() {
    try {
      window.localStorage.removeItem(key);
      window.localStorage.removeItem(key + ":at");
    } catch (e) { /* disabled */ }
  }

  let saved = 0, refused = 0, sending = false, reason = null;
  async function send() {
    if (sending) { return; }
    sending = true;
    const note = document.getElementById("late-answers");
    for (const questionId of Object.keys(pending)) {
      const body = {question: +questionId, value: pending[questionId]};
      if (givenAt[questionId]) { body.answered_at = new Date(givenAt[questionId]).toISOString(); }
      let result;
      try { result = await OpenProctor.api("/api/v1/sessions/" + session + "/answers", body); } catch (e) { result = null; }
      // Offline, a server fault or a rate limit: keep them, try again (refused only when the server says no for good).
      if (!result || !(result.ok || [400, 404, 409, 413, 422].indexOf(result.status) >= 0)) {
        if (note) { note.hidden = false; note.textContent = "Reconnecting to save the answers you gave before the deadline…"; }
        sending = false;
        setTimeout(send, 5000);  // or at once when the browser says it is back online
        window.addEventListener("online", send, {once: true});
        return;
      }
      if (result.ok) {
        saved += 1;
      } else {
        refused += 1;
        const error = result.data && result.data.error;
        if (error && error.code === "online_after_answer") { reason = error.message; }
      }
      delete pending[questionId];
    }
    forget();
    if (saved && !window.sessionStorage.getItem(key + ":sent")) {
      window.sessionStorage.setItem(key + ":sent", "1");
      window.location.reload();  // the counts on this page include them now
      return;
    }
    if (note && refused) {
      note.hidden = false;
      note.textContent = refused + " answer" + (refused > 1 ? "s" : "") + " kept on this device could not be saved: " +
        (reason || "the server takes answers given before the deadline, while offline, for 5 minutes after it.");
    }
  }

  // Only time running out leaves answers to send: a submit carried every answer on the form, and a session a
  // proctor ended takes none.
  if (Object.keys(pending).length && root.dataset.status === "expired") { send(); } else { forget(); }
})();
