// Webcam capture: getUserMedia → canvas → JPEG data URL in the hidden "captured" field. No libraries.
(function () {
  "use strict";
  var video = document.getElementById("webcam-video"), shot = document.getElementById("webcam-shot");
  var canvas = document.getElementById("webcam-canvas"), hidden = document.getElementById("id_captured");
  var start = document.getElementById("webcam-start"), take = document.getElementById("webcam-take");
  var retake = document.getElementById("webcam-retake"), error = document.getElementById("webcam-error");
  var placeholder = document.getElementById("webcam-placeholder"), file = document.getElementById("id_photo");
  var stream = null;

  function show(el, visible) { el.hidden = !visible; }
  function stop() { if (stream) { stream.getTracks().forEach(function (t) { t.stop(); }); stream = null; } }

  start.addEventListener("click", function () {
    show(error, false);
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      error.textContent = "This browser cannot use a webcam here (it needs HTTPS). Upload a photo instead.";
      show(error, true);
      return;
    }
    navigator.mediaDevices.getUserMedia({video: {width: 640, height: 480}, audio: false}).then(function (s) {
      stream = s;
      video.srcObject = s;
      return video.play();
    }).then(function () {
      show(placeholder, false); show(shot, false); show(video, true);
      show(start, false); show(retake, false); show(take, true);
      take.focus();  // the button pressed is gone: focus goes to the next step, not the page (an audit)
    }).catch(function (e) {
      error.textContent = "The webcam could not be started: " + (e && e.message ? e.message : e);
      show(error, true);
    });
  });

  take.addEventListener("click", function () {
    canvas.width = video.videoWidth || 640;
    canvas.height = video.videoHeight || 480;
    canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
    var data = canvas.toDataURL("image/jpeg", 0.92);
    hidden.value = data;
    shot.src = data;
    file.value = "";  // the capture replaces any chosen file
    stop();
    show(video, false); show(shot, true); show(take, false); show(retake, true);
    retake.focus();
  });

  retake.addEventListener("click", function () { hidden.value = ""; start.click(); show(resized, false); });
  file.addEventListener("change", function () {
    if (file.value) { hidden.value = ""; stop(); show(video, false); show(shot, false); show(take, false);
      show(retake, false); show(start, true); show(placeholder, true); show(resized, false); smaller(); }
  });

  // A phone's photo over the server's 5 MB is made smaller here (photo_resize.js) and sent as a capture is.
  var resized = document.getElementById("photo-resized"), submit = document.querySelector("#face-form [type=submit]");
  function smaller() {
    var chosen = file.files && file.files[0], photos = window.OpenProctorPhotos;
    if (!chosen || !photos || chosen.size <= photos.MAX_BYTES) { return; }
    submit.disabled = true;
    resized.textContent = "Making the photo (" + photos.megabytes(chosen) + ") smaller to send…";
    show(resized, true);
    photos.shrink(chosen, canvas).then(function () {
      var data = canvas.toDataURL("image/jpeg", 0.92);
      hidden.value = data;
      shot.src = data;
      file.value = "";  // the smaller copy is what is sent
      show(placeholder, false); show(shot, true);
      resized.textContent = "The photo (" + photos.megabytes(chosen) + ") was made smaller to send: " + canvas.width +
        "×" + canvas.height + " pixels.";
    }).catch(function () {
      resized.textContent = "This photo is over 5 MB and could not be made smaller here: choose a smaller one.";
    }).then(function () { submit.disabled = false; });
  }
  window.addEventListener("pagehide", stop);
})();
