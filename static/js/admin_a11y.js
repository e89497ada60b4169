// Django's two-box selector (SelectFilter2.js, run on window load) names its search icons with aria-label on a
// bare span, which ARIA does not allow; as an image the label is allowed and read. Deferred, this listener runs
// after SelectFilter2's.
"use strict";
window.addEventListener("load", function () {
  document.querySelectorAll("span.help-tooltip[aria-label]:not([role])").forEach(function (icon) {
    icon.setAttribute("role", "img");
  });
});
