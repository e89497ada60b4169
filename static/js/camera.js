// OpenProctor webcam helper: start the camera, grab JPEG frames, send them to /process, follow their
// analysis, and keep frames taken while offline until the network is back. No libraries; used by the
// camera check (check.js) and the exam page (exam.js).
(function () {
  "use strict";

  // Milliseconds to add to the browser's clock to get the server's (from the Date header), so that the
  // capture time of a frame kept offline is on the server's clock.
  let clockOffset = 0, clockKnown = false;

  function csrfToken() {
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function noteClock(response) {
    const date = Date.parse(response.headers.get("Date") || "");
    if (!isNaN(date)) {  // Date has whole seconds: take the middle of the second
      // Moved only when it disagrees by more than Date's own second: the page's rendered time is finer, and a clock
      // that stepped back by half a second made the countdown stand still.
      const offset = date + 500 - Date.now();
      if (!clockKnown || Math.abs(offset - clockOffset) > 1000) { clockOffset = offset; }
      clockKnown = true;
    }
  }

  // Rejects only when the server could not be reached (offline, connection refused).
  async function request(method, path, body) {
    const options = {method: method, credentials: "same-origin", cache: "no-store",
                     headers: {"X-CSRFToken": csrfToken()}};
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    const response = await fetch(path, options);
    noteClock(response);
    let data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    return {ok: response.ok, status: response.status, data: data};
  }

  function api(path, body) { return request("POST", path, body); }
  function getJSON(path) { return request("GET", path); }

  function errorMessage(result, fallback) {
    return (result && result.data && result.data.error && result.data.error.message) || fallback;
  }

  function sleep(ms) { return new Promise(function (resolve) { setTimeout(resolve, ms); }); }

  // Whether this browser is still signed in as the person the page was opened for (the body's data-user). An answer
  // or a frame refused with 403 or 404 may mean only that someone signed out, or signed in as someone else, in
  // another tab: what it carries is kept until this person signs in again. Answers true when it cannot tell
  // (offline, or a page that names nobody), so that a real refusal is still said as before.
  async function stillSignedIn() {
    const user = document.body.dataset.user;
    if (!user) { return true; }
    let result;
    try { result = await getJSON("/api/v1/me"); } catch (e) { return true; }
    if (result.ok && result.data && result.data.id !== undefined) { return String(result.data.id) === user; }
    return !(result.status === 401 || result.status === 403);
  }
  function refusedAsWho(result) { return result && [401, 403, 404].indexOf(result.status) >= 0; }

  async function startCamera(video) {
    const stream = await navigator.mediaDevices.getUserMedia({video: {width: 640, height: 480}, audio: false});
    video.srcObject = stream;
    await video.play();
    return stream;
  }

  function grab(video, canvas) {
    canvas.width = video.videoWidth || 640;
    canvas.height = video.videoHeight || 480;
    canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
    return canvas.toDataURL("image/jpeg", 0.85).split(",", 2)[1];
  }

  // Show the five checks as small green/red cards (as the original sample did).
  // What a student can do about a check that does not pass: a red chip alone told them nothing.
  function hintFor(check) {
    const count = +check.Details;
    switch (check.TestName) {
      case "Face Detection": return count > 1 ? "Only your face should be in view." : "Keep your face in view of the camera.";
      case "Person Detection": return count > 1 ? "Only you should be in view." : "Stay in front of the camera.";
      case "Person Recognition": return "Face the camera, in good light, so it can see it is you.";
      case "Objects of Interest": return "Put away phones and anything else the exam does not allow.";
      case "Unsafe Content": return "Keep the camera on yourself.";
      default: return "";
    }
  }

  // ``unhinted``: TestNames whose failing chip gets no hint (the page knows the hint would mislead).
  function renderChecks(container, checks, unhinted) {
    container.innerHTML = "";
    (checks || []).forEach(function (check) {
      const card = document.createElement("div");
      card.className = "check " + (check.Success ? "pass" : "fail");
      card.setAttribute("data-test", check.TestName);
      card.innerHTML = '<span class="dot"></span><span class="name"></span><span class="detail"></span>';
      card.querySelector(".name").textContent = check.TestName;
      const detail = check.Details;
      card.querySelector(".detail").textContent = (detail === "0" || detail === 0 || detail == null) ? "" : String(detail);
      // Passed or not in words too, not only in the dot's colour (an accessibility audit: a screen reader heard the
      // names only, and on the live view nothing said which had failed).
      const said = document.createElement("span");
      said.className = "sr-only";
      said.textContent = check.Success ? ": passed" : ": needs attention";
      card.querySelector(".name").after(said);
      const hint = check.Success || (unhinted || []).indexOf(check.TestName) >= 0 ? "" : hintFor(check);
      if (hint) {
        const line = document.createElement("span");
        line.className = "hint";
        line.textContent = hint;
        card.appendChild(line);
      }
      container.appendChild(card);
    });
  }

  // Post a frame of a session; answers at once with 202 and a status_url (no page waits on analysis).
  // ``capturedAt``: the browser's time of capture, sent on the server's clock once that is known (a
  // frame kept offline then lands on the timeline when it was taken, not when it arrived); or that time
  // already on the server's clock, as an ISO string (``stamp``).
  function stamp(capturedAt) {
    return capturedAt && clockKnown ? new Date(capturedAt + clockOffset).toISOString() : null;
  }

  function sendFrame(sessionId, image, capturedAt) {
    const body = {image: image, session: sessionId};
    const at = typeof capturedAt === "string" ? capturedAt : stamp(capturedAt);
    if (at) { body.captured_at = at; }
    return api("/process", body);
  }

  // Follow a queued frame's status URL briefly; answers the frame once analysed (or failed), else null.
  // It first asks 200 ms after the 202, then again after 400 ms, 800 ms and every second: an analysis takes
  // longer than the 202's round trip, so asking at once was a second request on every frame that always
  // answered "pending" (about 5 ms of a web node's CPU each). scripts/loadgen.py follows the same delays.
  async function followStatus(url, seconds) {
    const until = Date.now() + (seconds || 8) * 1000;
    for (let delay = 200; ; delay = Math.min(delay * 2, 1000)) {
      if (Date.now() + delay > until) { return null; }
      await sleep(delay);
      let result = null;
      try { result = await getJSON(url); } catch (e) { return null; }
      if (!result.ok || !result.data) { return null; }
      if (result.data.status !== "pending") { return result.data; }
    }
  }

  // Frames waiting to be sent are kept on the device too (IndexedDB) when the queue is made with ``keep``: a page
  // closed (or a browser that crashed) while offline lost them, and the exam's record had a hole where they were.
  // The exam page sends them, with the time each was taken, when it is next opened while the session runs. Kept
  // frames older than a day (of any session) are deleted; without IndexedDB the queue lives in memory only.
  const FRAME_DB = "openproctor-frames", FRAME_STORE = "frames", FRAME_KEEP_MS = 24 * 3600 * 1000;
  function openFrameStore() {
    return new Promise(function (resolve) {
      let request;
      try { request = window.indexedDB.open(FRAME_DB, 1); } catch (e) { resolve(null); return; }
      request.onupgradeneeded = function () { request.result.createObjectStore(FRAME_STORE, {keyPath: "key"}); };
      request.onsuccess = function () { resolve(request.result); };
      request.onerror = request.onblocked = function () { resolve(null); };
    });
  }
  // Run ``work(store)`` in a transaction of the kept frames; answers what its request answered (null on a failure).
  function withFrameStore(db, mode, work) {
    return new Promise(function (resolve) {
      if (!db) { resolve(null); return; }
      try {
        const transaction = db.transaction(FRAME_STORE, mode), request = work(transaction.objectStore(FRAME_STORE));
        transaction.oncomplete = function () { resolve(request ? request.result : null); };
        transaction.onerror = transaction.onabort = function () { resolve(null); };
      } catch (e) { resolve(null); }
    });
  }

  // Frames waiting to be sent, oldest first, bounded in count and bytes (the oldest go first when full).
  function FrameQueue(sessionId, limits) {
    this.sessionId = sessionId;
    this.maxFrames = (limits && limits.maxFrames) || 20;
    this.maxBytes = (limits && limits.maxBytes) || 5 * 1024 * 1024;
    this.items = [];
    this.bytes = 0;
    this.dropped = 0;
    this.offline = false;
    this.store = limits && limits.keep && window.indexedDB ? openFrameStore() : Promise.resolve(null);
    this.restored = false;
  }
  FrameQueue.prototype.size = function () { return this.items.length; };
  FrameQueue.prototype.push = function (image, capturedAt) {
    // Its time on the server's clock is fixed now: a frame sent again (its answer was lost, or by the next page
    // from the device's store) says the same capture time, to the millisecond, and the server keeps it once.
    const at = capturedAt || Date.now(), item = {image: image, capturedAt: at, stamp: stamp(at)};
    item.key = this.sessionId + ":" + (item.stamp || at);
    this.items.push(item);
    this.bytes += image.length;
    this.keep(item);
    this.trim();
  };
  FrameQueue.prototype.trim = function () {
    while (this.items.length > this.maxFrames || (this.bytes > this.maxBytes && this.items.length > 1)) {
      const gone = this.items.shift();
      this.bytes -= gone.image.length;
      this.dropped += 1;
      this.forget(gone);
    }
  };
  FrameQueue.prototype.keep = function (item) {
    const record = {key: item.key, session: this.sessionId, capturedAt: item.capturedAt, stamp: item.stamp,
                    image: item.image, keptAt: Date.now()};
    this.store.then(function (db) { return withFrameStore(db, "readwrite", function (store) { return store.put(record); }); });
  };
  FrameQueue.prototype.forget = function (item) {
    this.store.then(function (db) { return withFrameStore(db, "readwrite", function (store) { return store.delete(item.key); }); });
  };
  // Once, before the first sending: the frames of this session that an earlier page kept on the device and did not
  // send (two windows of the exam may both send one: the server keeps it once).
  FrameQueue.prototype.restore = async function () {
    if (this.restored) { return; }
    this.restored = true;
    const db = await this.store;
    const kept = (await withFrameStore(db, "readonly", function (store) { return store.getAll(); })) || [];
    const known = {}, stale = Date.now() - FRAME_KEEP_MS, self = this;
    this.items.forEach(function (item) { known[item.key] = true; });
    kept.forEach(function (record) {
      if (!(record.keptAt >= stale)) { self.forget(record); return; }
      if (record.session !== self.sessionId || known[record.key] || typeof record.image !== "string") { return; }
      self.items.push({image: record.image, capturedAt: record.capturedAt, stamp: record.stamp, key: record.key});
      self.bytes += record.image.length;
    });
    this.items.sort(function (a, b) { return a.capturedAt - b.capturedAt; });
    this.trim();
  };
  // Send what is queued, oldest first, so that the incident rules see frames in the order they were
  // taken. Answers {sent, last, offline, retry, over, signedOut}: ``last`` is the newest frame's answer; ``signedOut``:
  // the browser is no longer signed in as the page's student (stillSignedIn), so the frames wait for them.
  FrameQueue.prototype.flush = async function () {
    const outcome = {sent: 0, last: null, offline: false, retry: false, over: false, signedOut: false};
    await this.restore();
    while (this.items.length) {
      const item = this.items[0];
      item.stamp = item.stamp || stamp(item.capturedAt);  // taken before the page knew the server's clock
      let result;
      try { result = await sendFrame(this.sessionId, item.image, item.stamp || item.capturedAt); } catch (e) {
        this.offline = outcome.offline = true;
        return outcome;
      }
      this.offline = false;
      if (result.status === 429 || result.status === 408 || result.status >= 500) {
        outcome.retry = true;  // rate-limited or a server fault: keep the frame, try again next time
        return outcome;
      }
      if (refusedAsWho(result) && !(await stillSignedIn())) {
        outcome.signedOut = true;  // dropped here, every frame taken until the student signed in again was lost
        return outcome;
      }
      this.items.shift();
      this.bytes -= item.image.length;
      this.forget(item);
      outcome.sent += 1;
      outcome.last = result;
      if (result.status === 409) {  // the session takes no more frames: none of those kept will go
        this.items.forEach(this.forget, this);
        outcome.over = true;
        return outcome;
      }
    }
    return outcome;
  };

  // What exam.js (answers) and listen.js (speech) share for work that must not be lost offline: flush()
  // runs sendAll (true when everything went, false to try again later); a call while one runs asks for one
  // more pass; a failed flush tries again with backoff (1 s doubling to 30 s), and at once when the browser is
  // back online. settled(done) runs after each flush.
  function retrying(sendAll, settled) {
    let flushing = null, again = false, retryDelay = 1000, retryTimer = null;
    function flush() {
      if (flushing) { again = true; return flushing; }
      clearTimeout(retryTimer);
      flushing = (async function () {
        let done;
        do {
          again = false;
          done = await sendAll();
        } while (done && again);
        if (settled) { settled(done); }
        if (done) {
          retryDelay = 1000;
        } else {
          retryTimer = setTimeout(flush, retryDelay);
          retryDelay = Math.min(retryDelay * 2, 30000);
        }
        flushing = null;
        return done;
      })();
      return flushing;
    }
    window.addEventListener("online", function () { retryDelay = 1000; flush(); });
    return flush;
  }

  function serverNow() { return Date.now() + clockOffset; }

  // The server's time when it rendered the page (ms, ``data-server-now``), until an answer's Date says better: a
  // frame is stamped on the server's clock from the first one. The first frames once went without a capture time
  // (the server took its arrival), so one sent again after its answer was lost said another time and was kept twice.
  function noteServerTime(ms) {
    if (!clockKnown && !isNaN(ms)) { clockOffset = ms - Date.now(); clockKnown = true; }
  }
  const rendered = document.querySelector("[data-server-now]");
  if (rendered) { noteServerTime(Date.parse(rendered.dataset.serverNow)); }

  window.OpenProctor = {serverNow: serverNow, api: api, getJSON: getJSON, request: request, errorMessage: errorMessage, sleep: sleep,
                        startCamera: startCamera, grab: grab, sendFrame: sendFrame, followStatus: followStatus,
                        FrameQueue: FrameQueue, renderChecks: renderChecks, csrfToken: csrfToken, retrying: retrying,
                        stillSignedIn: stillSignedIn, refusedAsWho: refusedAsWho};
})();
