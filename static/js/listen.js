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
  // Segments waiting to be sent, oldest first, bounded as the webcam's FrameQueue is (camera.js): when
  // full, the oldest go first. A segment that could not be sent (offline, a server fault, a rate limit)
  // stays and is sent again with backoff, and at once when the browser is back online; one the server
  // refused (4xx: no speech, too long, the exam is over) is dropped, since sending it again cannot help.
  const MAX_SEGMENTS = 40, MAX_BYTES = 8 * 1024 * 1024;
  const status = window.OpenProctorListening = {ready: false, sent: 0, refused: 0, bytes: 0, error: null,
                                                queued: 0, dropped: 0, offline: false};
  const queue = [];
  let queuedBytes = 0;

  function say(text) { state.textContent = text; }

  function serverNow() {
    return window.OpenProctor && window.OpenProctor.serverNow ? window.OpenProctor.serverNow() : Date.now();
  }

  function keep(samples, endedAt) {
    const startedAt = endedAt - samples.length / RATE * 1000;
    const wav = new Blob([window.vad.utils.encodeWAV(samples, 1, RATE, 1, 16)], {type: "audio/wav"});
    queue.push({wav: wav, startedAt: new Date(startedAt).toISOString(), endedAt: new Date(endedAt).toISOString()});
    queuedBytes += wav.size;
    while (queue.length > MAX_SEGMENTS || (queuedBytes > MAX_BYTES && queue.length > 1)) {
      queuedBytes -= queue.shift().wav.size;
      status.dropped += 1;
    }
    status.queued = queue.length;
  }

  // Answers "sent", "refused" or "retry" (not sent: keep it).
  async function send(item) {
    const form = new FormData();
    form.append("clip", item.wav, "speech.wav");
    form.append("started_at", item.startedAt);
    form.append("ended_at", item.endedAt);
    let response;
    try {
      response = await fetch(panel.dataset.speechUrl, {
        method: "POST", body: form, credentials: "same-origin", cache: "no-store",
        headers: {"X-CSRFToken": window.OpenProctor ? window.OpenProctor.csrfToken() : ""},
      });
    } catch (e) {
      status.offline = true;
      return "retry";
    }
    status.offline = false;
    if (response.status === 429 || response.status === 408 || response.status >= 500) { return "retry"; }
    // Someone signed out, or in as another person, in another tab: kept until the student is back (exam.js says so).
    if (OpenProctor.refusedAsWho(response) && !(await OpenProctor.stillSignedIn())) { return "retry"; }
    status.bytes += item.wav.size;
    return response.ok ? "sent" : "refused";
  }

  async function sendQueued() {
    while (queue.length) {
      const outcome = await send(queue[0]);
      if (outcome === "retry") { return false; }
      queuedBytes -= queue.shift().wav.size;
      status.queued = queue.length;
      status[outcome] += 1;
    }
    return true;
  }

  const flush = OpenProctor.retrying(sendQueued);

  function speechEnded(audio) {
    const endedAt = serverNow();
    const part = MAX_SECONDS * RATE;
    for (let offset = 0; offset < audio.length; offset += part) {
      const piece = audio.subarray(offset, Math.min(audio.length, offset + part));
      keep(piece, endedAt - (audio.length - offset - piece.length) / RATE * 1000);
    }
    flush();
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
