// The camera and identity check: send a frame every two seconds, follow its analysis through the
// status URL (the request itself never waits), and enable "Start the exam" once face and identity pass.
(function () {
  "use strict";

  const root = document.getElementById("camera-check");
  if (!root) { return; }
  const sessionId = +root.dataset.session;
  const needsIdentity = root.dataset.needsIdentity === "true";
  const video = document.getElementById("preview"), canvas = document.getElementById("grab");
  const state = document.getElementById("camera-state"), begin = document.getElementById("begin");

  function show(checks) {
    OpenProctor.renderChecks(document.getElementById("checks"), checks);
    const byName = Object.fromEntries(checks.map(function (c) { return [c.TestName, c]; }));
    const face = byName["Face Detection"], person = byName["Person Recognition"];
    const faceOk = !face || face.Success, identityOk = !needsIdentity || (person && person.Success);
    state.textContent = !faceOk ? "No single face found: look at the camera." :
      (!identityOk ? "Face found — checking that it is you…" : "Face found and identity confirmed.");
    state.className = "state " + (faceOk && identityOk ? "ok" : "wait");
    begin.disabled = !(faceOk && identityOk);
  }

  async function checkOnce() {
    let result;
    try {
      result = await OpenProctor.sendFrame(sessionId, OpenProctor.grab(video, canvas));
    } catch (e) {
      state.textContent = "Could not reach the server; retrying…";
      state.className = "state wait";
      return;
    }
    if (result.status === 202 && result.data && result.data.status_url) {
      const frame = await OpenProctor.followStatus(result.data.status_url, 10);
      if (frame && frame.status === "done" && Array.isArray(frame.checks)) { show(frame.checks); }
      else if (frame && frame.error) { state.textContent = frame.error; }
    } else if (result.ok && Array.isArray(result.data)) {
      show(result.data);
    } else {
      state.textContent = OpenProctor.errorMessage(result, "The frame could not be checked; retrying…");
    }
  }

  async function loop() {
    await checkOnce();
    setTimeout(loop, 2000);
  }
  OpenProctor.startCamera(video).then(loop).catch(function () {
    state.textContent = "Camera unavailable or permission denied. Allow the camera and reload the page.";
    state.className = "state bad";
  });
})();
