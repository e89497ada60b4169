// Listening during the exam (exams whose policy listens): Silero VAD runs in this browser
// (@ricky0123/vad-web with its ONNX Runtime, served from our static files) and only what it calls
// speech leaves the machine: each segment as a 16 kHz mono 16-bit PCM WAV with its start and end
// time, to /api/v1/sessions/<id>/speech, where the server checks it with the same model.
(function () {
  "use strict";
  const panel = document.getElementById("listen");
  if (!panel) { return; }
  const state = document.getElementById("listen-state");
  const RATE = 16000, MAX_SECONDS = 25;  // the server takes at most 30 s a clip: longer speech goes in parts
  const status = window.OpenProctorListening = {ready: false, sent: 0, refused: 0, bytes: 0, error: null};

  function say(text) { state.textContent = text; }

  function serverNow() {
    return window.OpenProctor && window.OpenProctor.serverNow ? window.OpenProctor.serverNow() : Date.now();
  }

  async function send(samples, endedAt) {
    const startedAt = endedAt - samples.length / RATE * 1000;
    const wav = new Blob([window.vad.utils.encodeWAV(samples, 1, RATE, 1, 16)], {type: "audio/wav"});
    const form = new FormData();
    form.append("clip", wav, "speech.wav");
    form.append("started_at", new Date(startedAt).toISOString());
    form.append("ended_at", new Date(endedAt).toISOString());
    try {
      const response = await fetch(panel.dataset.speechUrl, {
        method: "POST", body: form, credentials: "same-origin", cache: "no-store",
        headers: {"X-CSRFToken": window.OpenProctor ? window.OpenProctor.csrfToken() : ""},
      });
      status.bytes += wav.size;
      if (response.ok) { status.sent += 1; } else { status.refused += 1; }
    } catch (e) {
      status.refused += 1;  // offline: speech is not kept in the browser
    }
  }

  async function speechEnded(audio) {
    const endedAt = serverNow();
    const part = MAX_SECONDS * RATE;
    for (let offset = 0; offset < audio.length; offset += part) {
      const piece = audio.subarray(offset, Math.min(audio.length, offset + part));
      await send(piece, endedAt - (audio.length - offset - piece.length) / RATE * 1000);
    }
  }

  if (!window.vad || !window.vad.MicVAD) {
    status.error = "unavailable";
    say("Listening is unavailable on this page.");
    return;
  }
  const base = panel.dataset.vadBase;
  // Our own audio context, resumed on the student's first click or key if the browser started it
  // suspended (autoplay rules): a suspended context would hear nothing.
  const context = new (window.AudioContext || window.webkitAudioContext)();
  ["click", "keydown"].forEach(function (type) {
    document.addEventListener(type, function () { if (context.state === "suspended") { context.resume(); } });
  });
  window.vad.MicVAD.new({
    model: "v6", baseAssetPath: base, onnxWASMBasePath: base, audioContext: context,
    ortConfig: function (ort) { ort.env.wasm.numThreads = 1; ort.env.wasm.proxy = false; },
    onSpeechEnd: speechEnded,
  }).then(function (detector) {
    detector.start();
    status.ready = true;
    say("Listening: only speech is sent.");
  }).catch(function (error) {
    status.error = (error && (error.name || error.message)) || "error";
    say(status.error === "NotAllowedError" ? "Microphone permission denied: allow it and reload the page."
                                            : "The microphone could not be started.");
  });
})();
