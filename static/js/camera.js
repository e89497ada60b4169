// OpenProctor webcam helper: start the camera, grab JPEG frames, send them to /process.
// No libraries; used by the camera check and the exam page.
(function () {
  "use strict";

  function csrfToken() {
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  async function api(path, body) {
    const response = await fetch(path, {
      method: "POST",
      credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": csrfToken()},
      body: JSON.stringify(body),
    });
    let data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    return {ok: response.ok, status: response.status, data: data};
  }

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
  function renderChecks(container, checks) {
    container.innerHTML = "";
    (checks || []).forEach(function (check) {
      const card = document.createElement("div");
      card.className = "check " + (check.Success ? "pass" : "fail");
      card.setAttribute("data-test", check.TestName);
      card.innerHTML = '<span class="dot"></span><span class="name"></span><span class="detail"></span>';
      card.querySelector(".name").textContent = check.TestName;
      card.querySelector(".detail").textContent = check.Details === "0" ? "" : check.Details;
      container.appendChild(card);
    });
  }

  async function sendFrame(sessionId, video, canvas, waitSeconds) {
    const image = grab(video, canvas);
    return api("/process?wait=" + (waitSeconds || 10), {image: image, session: sessionId});
  }

  window.OpenProctor = {api: api, startCamera: startCamera, grab: grab, sendFrame: sendFrame,
                        renderChecks: renderChecks, csrfToken: csrfToken};
})();
