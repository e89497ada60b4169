// Microphone check before the exam (exams whose policy listens): ask for the microphone, show its level
// on a meter, and say clearly when there is none or permission was denied. Once the meter has heard a
// signal, the check is recorded on the server (the start rule refuses an exam that listens without a
// recent one); check.js keeps "Start the exam" disabled until window.OpenProctorMicrophone.ok.
(function () {
  "use strict";
  const panel = document.getElementById("mic-check");
  if (!panel) { return; }
  const state = document.getElementById("mic-state"), meter = document.getElementById("mic-level");
  const status = window.OpenProctorMicrophone = {required: true, ok: false, peak: 0};
  const SIGNAL = 0.1;  // the server's exams.taking.MICROPHONE_SIGNAL_MIN: above a muted input's silence
  let recording = false;

  // Record the check on the server once the meter heard a signal; on a network fault, try again at the
  // next signal two seconds later.
  async function record(level) {
    recording = true;
    let result = null;
    try { result = await window.OpenProctor.api(panel.dataset.checkUrl, {level: level}); } catch (e) { result = null; }
    if (result && result.ok) {
      status.ok = true;
      say("Microphone working: the bar moves when you speak.", "ok");
      return;
    }
    if (result) {
      say(window.OpenProctor.errorMessage(result, "The microphone check could not be recorded."), "bad");
    }
    setTimeout(function () { recording = false; }, 2000);
  }

  function say(text, kind) {
    state.textContent = text;
    state.className = "state " + kind;
  }

  function measure(stream) {
    const context = new (window.AudioContext || window.webkitAudioContext)();
    // Started suspended under the browser's autoplay rules: the meter would stay still until a click.
    ["click", "keydown"].forEach(function (type) {
      document.addEventListener(type, function () { if (context.state === "suspended") { context.resume(); } });
    });
    const analyser = context.createAnalyser();
    analyser.fftSize = 1024;
    context.createMediaStreamSource(stream).connect(analyser);
    const samples = new Float32Array(analyser.fftSize);
    function tick() {
      analyser.getFloatTimeDomainData(samples);
      let sum = 0;
      for (let i = 0; i < samples.length; i++) { sum += samples[i] * samples[i]; }
      // RMS on a rough dB scale: -60 dB (silence) .. 0 dB (full scale) shown as 0 .. 1.
      const db = 20 * Math.log10(Math.sqrt(sum / samples.length) + 1e-9);
      const level = Math.max(0, Math.min(1, (db + 60) / 60));
      meter.value = level;
      status.peak = Math.max(status.peak, level);
      if (!status.ok && !recording && level > SIGNAL) { record(Math.round(level * 1000) / 1000); }
      requestAnimationFrame(tick);
    }
    tick();
  }

  async function start() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      say("This browser cannot use a microphone. Use a recent Chrome, Edge or Firefox.", "bad");
      return;
    }
    try {
      const stream = await navigator.mediaDevices.getUserMedia({audio: {channelCount: 1}, video: false});
      say("Microphone on: say a few words so that we hear it.", "wait");
      measure(stream);
    } catch (error) {
      const name = error && error.name;
      if (name === "NotAllowedError" || name === "SecurityError") {
        say("Microphone permission denied. This exam listens for talking: allow the microphone for this " +
            "site (the icon in the address bar) and reload the page.", "bad");
      } else if (name === "NotFoundError" || name === "OverconstrainedError") {
        say("No microphone found. This exam listens for talking: connect a microphone and reload the page.", "bad");
      } else {
        say("The microphone could not be started (" + (name || "error") + "). Close other apps using it and " +
            "reload the page.", "bad");
      }
    }
  }

  start();
})();
