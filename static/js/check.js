// The camera and identity check: send a frame every two seconds, follow its analysis through the
// status URL (the request itself never waits), then read the gate's status: the identity verdict with
// its reason, the liveness challenge, the photo-ID fallback and whether the exam may start (the
// server's one start rule decides; this page only shows it).
(function () {
  "use strict";

  const root = document.getElementById("camera-check");
  if (!root) { return; }
  const sessionId = +root.dataset.session;
  const gateUrl = root.dataset.gateUrl, requestUrl = root.dataset.requestUrl;
  const video = document.getElementById("preview"), canvas = document.getElementById("grab");
  const state = document.getElementById("camera-state"), begin = document.getElementById("begin");
  const $ = function (id) { return document.getElementById(id); };
  let waiting = root.dataset.status === "awaiting_approval", settled = false;
  const SETTLED_MS = 5000;
  let faceOk = false, quietRecognition = false;
  const captured = {id: null, live: null};
  // Help appears when the head turns have not moved on for this long (a turn not seen, a poor camera).
  const LIVENESS_HELP_AFTER_MS = 40000;
  let livenessAt = "", livenessSince = Date.now();

  // Said once each time it changes; said within 30 s, again only once it holds (say_once.js).
  const announce = OpenProctor.sayOnce($("gate-announce"), 30000);

  function show(checks) {
    OpenProctor.renderChecks($("checks"), checks, quietRecognition ? ["Person Recognition"] : []);
    const byName = Object.fromEntries(checks.map(function (c) { return [c.TestName, c]; }));
    const face = byName["Face Detection"];
    faceOk = !face || face.Success;
    state.textContent = faceOk ? "Face found." : "No single face found: look at the camera.";
    state.className = "state " + (faceOk ? "ok" : "wait");
  }

  function showGate(gate) {
    waiting = gate.status === "awaiting_approval";
    // Every check passed (the exam may start, or has not opened yet): nothing is left to try, so frames go every
    // SETTLED_MS instead of every 2 s. Until the gate is passed a check's frame is analysed in full (liveness needs
    // each one's pose; proctoring/skipping.py); students who checked in early and wait for the opening paid a frame
    // every 2.4 s, 4.8 times an exam's cost (make bench-scale's camera check); the server now carries a passed gate's
    // still frames as it does an exam's. The turns expire after LIVENESS_PASS_MAX_AGE: the page asks for them again,
    // at 2 s.
    settled = gate.can_start || Boolean(gate.liveness && gate.liveness.passed &&
                                        (gate.identity_approved || (gate.identity && gate.identity.passed)));
    const identity = gate.identity, reason = $("identity-reason");
    // Without a reference photo, or once a proctor confirmed the student, a failing Person Recognition chip is no
    // advice to "face the camera": its hint is left out (camera.js).
    quietRecognition = gate.identity_approved || Boolean(identity && identity.reason === "no_reference");
    if (gate.identity_approved && $("no-reference")) { $("no-reference").hidden = true; }
    if (reason && gate.identity_approved) {
      reason.hidden = true;  // a proctor confirmed it: the latest frame's verdict no longer decides
    } else if (reason && identity) {
      reason.hidden = false;
      reason.textContent = identity.message;
      // "confirming": this frame matches, the next one or two confirm it (the server's IDENTITY_PASS_FRAMES).
      reason.className = "state " + (identity.passed ? "ok" : identity.reason === "confirming" ? "wait" : "bad");
      reason.setAttribute("data-reason", identity.reason);
    }
    if ($("liveness")) {
      const live = gate.liveness;
      $("liveness-instruction").textContent = live.instruction;
      $("liveness").setAttribute("data-step", live.step);
      // The server chose this session's turns: list them in its order, those seen so far marked done.
      const items = ["face"].concat(live.order), steps = $("liveness-steps");
      const at = live.passed ? items.length : (live.step === "face" ? 0 : 1 + live.turns_done);
      // Numbered as the instruction counts them ("Turn 1 of 3"); none is current while the face looks back.
      const labels = {face: "Look at the camera", left: "left", right: "right"};
      steps.replaceChildren.apply(steps, items.map(function (step, index) {
        const item = document.createElement("li");
        item.setAttribute("data-step", step);
        item.textContent = index === 0 ? labels.face : "Turn " + index + " of " + live.order.length + ": " + labels[step];
        item.className = index < at ? "done" : (index === at && live.step !== "back" ? "current" : "");
        if (item.className === "current") { item.setAttribute("aria-current", "step"); }
        if (item.className === "done") {
          const done = document.createElement("span");
          done.className = "sr-only";
          done.textContent = " (done)";
          item.appendChild(done);
        }
        return item;
      }));
      steps.hidden = false;
      const progress = live.step + ":" + live.turns_done;
      if (progress !== livenessAt) { livenessAt = progress; livenessSince = Date.now(); }
      $("liveness-help").hidden = live.passed || Date.now() - livenessSince < LIVENESS_HELP_AFTER_MS;
    }
    $("waiting").hidden = !waiting || gate.closed;
    $("fallback").hidden = waiting || !gate.fallback || gate.closed || gate.can_start;
    if ($("fallback-turns")) {  // why it is offered: the head turns stalled, or the identity check
      $("fallback-turns").hidden = gate.fallback_for !== "head_turns";
      $("fallback-identity").hidden = gate.fallback_for === "head_turns";
    }
    const approval = $("approval-state");
    approval.hidden = true;
    // The latest decision: a denial after an earlier approval is shown too (it was hidden behind the approval).
    // (Not once every check passes: an audit saw the denial and the fallback still shown beside "you can start".)
    if (gate.approval && gate.approval.status === "denied" && !waiting && !gate.can_start) {
      approval.hidden = false;
      approval.textContent = (gate.approval.for === "head_turns" ? "A proctor did not excuse the head turns: "
        : "A proctor could not confirm your identity: ") + gate.approval.note;
      approval.className = "state bad";
    } else if (gate.identity_approved) {
      approval.hidden = false;
      approval.textContent = "A proctor confirmed your identity from your photo ID." +
        (gate.approval && gate.approval.excused ? " They also excused the head turns."
          : (gate.liveness && !gate.liveness.passed ? " The head turns are still asked for." : ""));
      approval.className = "state ok";
    }
    // An exam that listens also needs a working microphone (mic_check.js), as it needs the camera.
    const microphone = window.OpenProctorMicrophone;
    const micMissing = Boolean(microphone && microphone.required && !microphone.ok);
    begin.disabled = !gate.can_start || micMissing;
    if (gate.can_start && micMissing) {
      state.textContent = "Your camera checks passed; the microphone is still missing (see below).";
      state.className = "state bad";
    } else if (gate.can_start) {
      state.textContent = "All checks passed: you can start the exam.";
      state.className = "state ok";
    } else if (gate.closed) {  // (a student waiting for a proctor saw "Waiting…" after the exam closed)
      state.textContent = "The exam has closed: it can no longer be started.";
      state.className = "state bad";
    } else if (waiting) {
      state.textContent = "Waiting for a proctor…";
      state.className = "state wait";
    }
    // The headline for a screen reader: what decides whether the student may start, in that order.
    const approvalShown = approval.hidden ? "" : approval.textContent;
    announce(gate.closed ? state.textContent
      : gate.can_start ? state.textContent
      : waiting ? "A proctor is checking your photo ID. Stay on this page."
      : approvalShown && gate.approval && gate.approval.status === "denied" ? approvalShown
      : identity && !identity.passed && !gate.identity_approved ? identity.message
      : gate.liveness && !gate.liveness.passed ? gate.liveness.instruction
      : state.textContent);
  }

  async function refreshGate() {
    let result;
    try { result = await OpenProctor.getJSON(gateUrl); } catch (e) { return; }
    if (result.ok && result.data) { showGate(result.data); }
  }

  function errorCode(result) { return (result && result.data && result.data.error && result.data.error.code) || ""; }

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
    } else if (result.status === 409 && !["exam_not_open", "exam_closed"].includes(errorCode(result))) {
      // the session is waiting for a proctor (the gate says so)
    } else {  // (before the check opened, the page said "Starting your camera…" for ever: an audit)
      state.textContent = OpenProctor.errorMessage(result, "The frame could not be checked; retrying…");
      state.className = "state bad";
    }
  }

  async function loop() {
    if (!waiting) { await checkOnce(); }
    await refreshGate();
    setTimeout(loop, waiting ? 3000 : settled ? SETTLED_MS : 2000);
  }

  function capture(which) {
    const image = OpenProctor.grab(video, canvas);
    captured[which] = image;
    const preview = $(which + "-preview");
    preview.src = "data:image/jpeg;base64," + image;
    preview.hidden = false;
    $("send-id").disabled = !(captured.id && captured.live);
  }

  $("capture-id").addEventListener("click", function () { capture("id"); });
  $("capture-live").addEventListener("click", function () { capture("live"); });
  $("send-id").addEventListener("click", async function () {
    $("send-id").disabled = true;
    let result;
    try {
      result = await OpenProctor.api(requestUrl, {id_photo: captured.id, live_photo: captured.live});
    } catch (e) {
      result = null;
    }
    if (result && result.ok) {
      captured.id = captured.live = null;  // a new request (after a denial) takes new photos
      $("id-preview").hidden = $("live-preview").hidden = true;
      waiting = true;
      $("fallback").hidden = true;
      $("waiting").hidden = false;
      $("waiting").focus();  // the button pressed is gone with its panel: focus fell to the page (an audit)
    } else {
      state.textContent = OpenProctor.errorMessage(result, "Your photos could not be sent; try again.");
      state.className = "state bad";
      $("send-id").disabled = false;
    }
  });

  OpenProctor.startCamera(video).then(loop).catch(function () {
    state.textContent = "Camera unavailable or permission denied. Allow the camera and reload the page.";
    state.className = "state bad";
  });
})();
