// A photo over the server's 5 MB (Rekognition's limit) made smaller in the browser: its longest side at most
// MAX_SIDE pixels, as a JPEG. A phone's photo often is over it. The server re-encodes every reference photo anyway.
// Used by face_capture.js (one student's page) and bulk_faces.js (a term's photos at once). No libraries.
window.OpenProctorPhotos = (function () {
  "use strict";
  const MAX_BYTES = 5 * 1024 * 1024, MAX_SIDE = 2048;

  // A canvas holding ``file`` made smaller, or null when it is small enough as it is; rejects when the browser
  // cannot decode it (then the server's own refusal says why).
  function shrink(file, canvas) {
    if (file.size <= MAX_BYTES) { return Promise.resolve(null); }
    if (!window.createImageBitmap) { return Promise.reject(new Error("This browser cannot make photos smaller.")); }
    return createImageBitmap(file).then(function (bitmap) {
      const scale = Math.min(1, MAX_SIDE / Math.max(bitmap.width, bitmap.height));
      const target = canvas || document.createElement("canvas");
      target.width = Math.round(bitmap.width * scale);
      target.height = Math.round(bitmap.height * scale);
      target.getContext("2d").drawImage(bitmap, 0, 0, target.width, target.height);
      return target;
    });
  }

  function megabytes(file) { return (file.size / 1024 / 1024).toFixed(1) + " MB"; }

  return {MAX_BYTES: MAX_BYTES, shrink: shrink, megabytes: megabytes};
})();
