// A term's reference photos at once (templates/manage/student_photos.html): each chosen file is matched to its
// student by its name (the student's email or student number, without the extension, any case), made smaller when
// over 5 MB (photo_resize.js), and sent on its own to the registration endpoint (/faces/index), one after another.
// Each file's row says what became of it. When the server says to wait (its rate limit on the engine), the page
// waits as long as it is told and sends the same photo again. No libraries.
(function () {
  "use strict";
  const root = document.getElementById("bulk-photos");
  if (!root) { return; }
  const input = document.getElementById("bulk-files"), send = document.getElementById("bulk-send");
  const progress = document.getElementById("bulk-progress"), card = document.getElementById("bulk-results-card");
  const body = document.querySelector("#bulk-results tbody");
  const students = JSON.parse(document.getElementById("bulk-students").textContent);
  // Every student under each key: a student number is not unique, and a file that names two students is sent to
  // neither (a re-audit: the later of two students with one number silently got the other's photo).
  const byKey = new Map();
  function add(key, student) {
    const list = byKey.get(key) || [];
    if (list.indexOf(student) < 0) { list.push(student); }
    byKey.set(key, list);
  }
  students.forEach(function (student) {
    add(student.email.toLowerCase(), student);
    if (student.number) { add(student.number.toLowerCase(), student); }
  });

  function stem(name) { return name.replace(/\.[^.]*$/, "").trim().toLowerCase(); }
  function sleep(ms) { return new Promise(function (resolve) { setTimeout(resolve, ms); }); }

  let rows = [];
  function row(file) {
    const found = byKey.get(stem(file.name)) || [];
    const student = found.length === 1 ? found[0] : null;
    const tr = document.createElement("tr");
    const cells = [file.name, student ? (student.name || student.email) : "—", ""].map(function (text, index) {
      const td = document.createElement("td");
      td.setAttribute("data-label", ["File", "Student", "Result"][index]);
      td.textContent = text;
      tr.appendChild(td);
      return td;
    });
    tr.className = "bulk-row";
    const item = {file: file, student: student, tr: tr, result: cells[2], done: false, ok: false};
    say(item, student ? "To send" : found.length > 1 ? found.length + " students have this student number: not sent; " +
        "register it on the student's own page" : "No student has this email or student number: not sent",
        student ? "" : "bad");
    if (!student) { item.done = true; }
    return item;
  }
  function say(item, text, kind, link) {
    item.result.replaceChildren();
    const badge = document.createElement("span");
    badge.className = "badge" + (kind ? " " + kind : "");
    badge.textContent = text;
    item.result.appendChild(badge);
    if (link) {
      const a = document.createElement("a");
      a.href = link.href;
      a.textContent = link.text;
      item.result.append(" ", a);
    }
    item.tr.setAttribute("data-result", kind || "pending");
  }

  input.addEventListener("change", function () {
    rows = Array.from(input.files || []).map(row);
    body.replaceChildren.apply(body, rows.map(function (item) { return item.tr; }));
    card.hidden = rows.length === 0;
    const sendable = rows.filter(function (item) { return !item.done; }).length;
    send.disabled = sendable === 0;
    send.textContent = sendable ? "Register " + sendable + " photo" + (sendable === 1 ? "" : "s") : "Register the photos";
    progress.hidden = true;
  });

  function post(item, blob) {
    const form = new FormData();
    form.append("image", blob, item.file.name);
    form.append("fullName", item.student.name || item.student.email);
    form.append("student", String(item.student.id));
    return fetch(root.getAttribute("data-index-url"), {method: "POST", body: form, credentials: "same-origin",
                                                        headers: {"X-CSRFToken": OpenProctor.csrfToken()}});
  }

  async function one(item) {
    let blob = item.file;
    try {
      const canvas = await window.OpenProctorPhotos.shrink(item.file);
      if (canvas) {
        blob = await new Promise(function (resolve) { canvas.toBlob(resolve, "image/jpeg", 0.92); });
      }
    } catch (error) {
      say(item, "Over 5 MB and could not be made smaller here: not sent", "bad");
      return;
    }
    for (;;) {
      let response;
      try {
        response = await post(item, blob);
      } catch (error) {
        say(item, "Not sent: the network failed. Choose the photos again to retry.", "bad");
        return;
      }
      if (response.status === 429) {  // the engine's rate limit: wait as long as the server says, then again
        const wait = Math.max(1, parseInt(response.headers.get("Retry-After") || "10", 10) || 10);
        say(item, "Waiting " + wait + " s: the server registers a limited number of photos a minute", "");
        await sleep(wait * 1000);
        continue;
      }
      let answer = {};
      try { answer = await response.json(); } catch (error) { answer = {}; }
      const error = answer.error || {};
      const page = {href: root.getAttribute("data-face-url").replace("/0/", "/" + item.student.id + "/"),
                    text: "Open the student's page"};
      if (response.ok) {
        item.ok = true;
        say(item, "Registered", "ok");
      } else if (error.code === "duplicate_face") {
        const match = (error.details && error.details.matches || [])[0] || {};
        say(item, "Not registered: the face matches " + (match.FullName || "another person") + "'s registered face",
            "warn", {href: page.href, text: "Look at both and confirm on the student's page"});
      } else {
        say(item, "Not registered: " + (error.message || ("the server answered " + response.status)), "bad",
            response.status >= 500 ? null : page);
      }
      return;
    }
  }

  send.addEventListener("click", async function () {
    const todo = rows.filter(function (item) { return !item.done; });
    send.disabled = true;
    input.disabled = true;
    progress.hidden = false;
    progress.className = "state";
    for (let index = 0; index < todo.length; index += 1) {
      progress.textContent = "Sending " + (index + 1) + " of " + todo.length + "…";
      say(todo[index], "Sending…", "");
      await one(todo[index]);
      todo[index].done = true;
    }
    const registered = rows.filter(function (item) { return item.ok; }).length;
    progress.textContent = "Registered " + registered + " of " + rows.length + " photo" + (rows.length === 1 ? "" : "s") +
      (registered < rows.length ? ": the others say why below." : ".");
    progress.className = "state " + (registered === rows.length ? "ok" : "bad");
    input.disabled = false;
    input.value = "";  // the rows stay; choosing photos again starts anew
    send.textContent = "Register the photos";
  });
})();
