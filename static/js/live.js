// The live view (templates/proctor/live.html): every running session's latest frame, checks, open
// incidents, time left and the age of its last frame, refreshed every 3 s (the ages and clocks tick
// every second in between). Sort and filter run here; "Message" and "End session" post to the API.
(function () {
  const grid = document.getElementById("live-grid"), state = document.getElementById("live-state");
  const template = document.getElementById("card-template"), empty = document.getElementById("live-empty");
  const sortSelect = document.getElementById("live-sort");
  const onlyIncidents = document.getElementById("live-only-incidents"), onlyStale = document.getElementById("live-only-stale");
  const staleAfter = (+grid.dataset.staleAfter || 30) * 1000;
  const cards = {}, data = {};
  let received = Date.now();  // when the latest answer came: seconds_left counts from it

  function duration(seconds) {
    seconds = Math.max(0, Math.round(seconds));
    const h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
    return (h ? h + ":" + String(m).padStart(2, "0") : m) + ":" + String(s).padStart(2, "0");
  }
  // Ages and clocks count from the server's figures plus the time since they came: no clock skew.
  function frameAge(s) { return s.frame_age_seconds === null ? null : s.frame_age_seconds * 1000 + (Date.now() - received); }
  function isStale(s) { const age = frameAge(s); return age === null || age > staleAfter; }
  function secondsLeft(s) { return s.seconds_left === null ? null : s.seconds_left - (Date.now() - received) / 1000; }

  function clock(at) {
    return new Date(at).toLocaleTimeString([], {timeZone: document.body.dataset.timeZone || undefined, hourCycle: "h23"});
  }
  function showForm(node, which) {
    const open = node.querySelector(".live-form:not([hidden])");
    node.querySelectorAll(".live-form").forEach(function (form) { form.hidden = !form.classList.contains(which); });
    const form = which ? node.querySelector("." + which) : null;
    if (form) { form.querySelector("textarea").focus(); }
    // Closed (sent, cancelled, Escape): focus goes back to the button that opened it, not to the page (an audit).
    if (!form && open && (open.contains(document.activeElement) || document.activeElement === document.body)) {
      node.querySelector(open.classList.contains("end-form") ? ".end-open" : ".message-open").focus();
    }
  }
  function wire(node, id) {
    node.querySelector(".message-open").addEventListener("click", function () { showForm(node, "message-form"); });
    node.querySelector(".end-open").addEventListener("click", function () { showForm(node, "end-form"); });
    node.querySelectorAll(".form-cancel").forEach(function (b) {  // a cancelled draft does not come back next time
      b.addEventListener("click", function () { b.closest("form").reset(); showForm(node, ""); });
    });
    node.querySelectorAll(".live-form").forEach(function (form) {  // Escape cancels, as the Cancel button does
      form.addEventListener("keydown", function (event) {
        if (event.key === "Escape") { event.preventDefault(); form.reset(); showForm(node, ""); }
      });
    });
    const say = node.querySelector(".action-state");
    async function send(form, url, body, done) {
      const button = form.querySelector("[type=submit]");
      button.disabled = true;
      let result = null;
      try { result = await OpenProctor.api(url, body); } catch (e) { result = null; }
      button.disabled = false;
      if (result && result.ok) { form.reset(); showForm(node, ""); say.textContent = done; refreshSoon(); }
      else { say.textContent = OpenProctor.errorMessage(result, "Not sent: the server could not be reached."); }
    }
    node.querySelector(".message-form").addEventListener("submit", function (event) {
      event.preventDefault();
      const text = event.target.elements.text.value.trim();
      if (!text) { say.textContent = "Write a message."; return; }
      send(event.target, "/api/v1/sessions/" + id + "/messages", {text: text}, "Message sent at " + new Date().toLocaleTimeString([], {timeZone: document.body.dataset.timeZone || undefined, hourCycle: "h23"}) + ".");
    });
    node.querySelector(".end-form").addEventListener("submit", function (event) {
      event.preventDefault();
      const reason = event.target.elements.reason.value.trim();
      if (!reason) { say.textContent = "Give a reason: the student sees it."; return; }
      send(event.target, "/api/v1/sessions/" + id + "/end", {reason: reason}, "Session ended.");
    });
  }
  function card(session) {
    if (!cards[session.session]) {
      const node = template.content.firstElementChild.cloneNode(true);
      node.dataset.session = session.session;
      node.querySelector(".report-link").href = "/sessions/" + session.session + "/report";
      wire(node, session.session);
      grid.appendChild(node);
      cards[session.session] = node;
    }
    return cards[session.session];
  }

  // Clocks and ages, every second; sort and filter follow them.
  function tick() {
    Object.keys(cards).forEach(function (id) {
      const s = data[id], node = cards[id];
      if (!s) { return; }
      const left = secondsLeft(s), age = frameAge(s);
      const leftEl = node.querySelector(".time-left"), ageEl = node.querySelector(".frame-age");
      leftEl.textContent = left === null ? "not started" : duration(left);
      leftEl.classList.toggle("low", left !== null && left < 300);
      ageEl.textContent = age === null ? "none yet" : duration(age / 1000) + " ago";
      ageEl.classList.toggle("stale", isStale(s));
      node.dataset.stale = isStale(s) ? "1" : "0";
    });
    arrangeKeepingFocus();
  }
  const orders = {
    risk: function (a, b) { return b.risk - a.risk || b.incidents.length - a.incidents.length; },
    left: function (a, b) { return (secondsLeft(a) ?? Infinity) - (secondsLeft(b) ?? Infinity); },
    age: function (a, b) { return (frameAge(b) ?? Infinity) - (frameAge(a) ?? Infinity); },
    name: function (a, b) { return a.student.localeCompare(b.student); },
  };
  function arrange() {
    const order = orders[sortSelect.value] || orders.risk;
    const sessions = Object.keys(cards).map(function (id) { return data[id]; }).filter(Boolean);
    sessions.sort(function (a, b) { return order(a, b) || a.student.localeCompare(b.student) || a.session - b.session; });
    let shown = 0, previous = null;
    // While the proctor types in a card (a message, an end reason) the cards keep their places: moving a card drops
    // the focus inside it (an audit: with six cards, a message lost all but its first five letters).
    const typing = grid.contains(document.activeElement) && /^(TEXTAREA|INPUT)$/.test(document.activeElement.tagName);
    sessions.forEach(function (s) {
      const node = cards[s.session];
      // (A card the focus is in stays until the focus leaves it: hidden, it took the focus with it.)
      const hide = ((onlyIncidents.checked && !s.incidents.length) || (onlyStale.checked && !isStale(s))) &&
        !node.contains(document.activeElement);
      node.hidden = hide;
      shown += hide ? 0 : 1;
      if (typing) { return; }
      // Only a card out of its place moves (each was moved every second before, in order or not).
      const place = previous ? previous.nextElementSibling : grid.firstElementChild;
      if (place !== node) { grid.insertBefore(node, place); }
      previous = node;
    });
    empty.hidden = shown > 0 || !sessions.length;
  }
  // Reordering moves nodes: keep the keyboard focus where it was.
  function arrangeKeepingFocus() {
    const focused = document.activeElement;
    arrange();
    if (focused && focused !== document.activeElement && document.body.contains(focused)) { focused.focus(); }
  }
  [sortSelect, onlyIncidents, onlyStale].forEach(function (el) { el.addEventListener("change", arrangeKeepingFocus); });

  let timer = null;
  function refreshSoon() { clearTimeout(timer); timer = setTimeout(refresh, 200); }
  async function refresh() {
    try {
      const result = await OpenProctor.getJSON(grid.dataset.liveUrl);
      if (!result.ok || !result.data) { throw new Error("HTTP " + result.status); }
      const answer = result.data;
      received = Date.now();
      const seen = new Set();
      answer.sessions.forEach(function (s) {
        const node = card(s);
        seen.add(String(s.session));
        data[s.session] = s;
        node.querySelector(".student").textContent = s.student;
        node.querySelector(".status").textContent = s.status.replace("_", " ") +
          (s.shed ? " · overloaded: newest frames only (" + s.shed + " skipped in the last minute)" : "");
        const img = node.querySelector("img");
        img.alt = "Latest webcam frame of " + s.student;  // (every card's said "Latest webcam frame": an audit)
        if (s.frame && img.dataset.frame !== String(s.frame)) { img.src = "/api/v1/frames/" + s.frame + "/image"; img.dataset.frame = s.frame; }
        node.classList.toggle("has-frame", !!s.frame);
        node.querySelector(".incident-count").textContent = s.incidents.length;
        node.querySelector(".incident-total").textContent = s.incident_count;
        node.querySelector(".risk").textContent = s.risk;
        const note = node.querySelector(".accommodation-note"), a = s.accommodation;
        note.hidden = !a;
        node.querySelector(".accommodation-text").textContent = a ? [a.reason, a.extra_label ? "extra time " + a.extra_label : "",
          a.exempt_labels.length ? "exempt from: " + a.exempt_labels.join("; ") : ""].filter(Boolean).join(" · ") : "";
        OpenProctor.renderChecks(node.querySelector(".checks"), s.checks);
        // Rebuilt only when it changed, keeping the focus on the same incident's link (a re-audit: rebuilt at every
        // poll, a link the proctor had tabbed to lost the focus every 3 s).
        const list = node.querySelector(".incidents");
        const listKey = JSON.stringify(s.incidents.map(function (i) { return [i.id, i.severity, i.label]; }));
        if (list.dataset.key !== listKey) {
          const focusedHref = list.contains(document.activeElement) ? document.activeElement.getAttribute("href") : null;
          list.innerHTML = "";
          s.incidents.forEach(function (i) {
            const li = document.createElement("li");
            li.className = "incident " + i.severity;
            li.innerHTML = '<a></a>';
            li.firstChild.href = "/incidents/" + i.id + "/";
            li.firstChild.textContent = i.label;
            list.appendChild(li);
          });
          list.dataset.key = listKey;
          if (focusedHref) {
            const same = list.querySelector('a[href="' + focusedHref + '"]');
            if (same) { same.focus(); } else { node.querySelector(".student").focus(); }
          }
        }
        node.classList.toggle("alert-card", s.incidents.length > 0);
        // The latest message and whether the student acknowledged it (the exam page's "OK, got it").
        const told = node.querySelector(".message-state"), m = s.message;
        told.hidden = !m;
        told.textContent = !m ? "" : "Last message " + clock(m.sent_at) + ": " +
          (m.acknowledged_at ? "read by the student at " + clock(m.acknowledged_at) + "." : "not acknowledged yet.");
      });
      Object.keys(cards).forEach(function (id) {
        if (seen.has(id)) { return; }
        const inside = cards[id].contains(document.activeElement);
        if (!inside || !/^(TEXTAREA|INPUT)$/.test(document.activeElement.tagName)) {
          cards[id].remove(); delete cards[id]; delete data[id];
          if (inside) { document.getElementById("main").focus(); }  // its buttons went with it (the session ended)
          return;
        }
        // Kept while the proctor types in it: it says why it will go.
        cards[id].querySelector(".status").textContent = "no longer in progress (ended)";
      });
      tick();
      state.textContent = answer.sessions.length + " session(s) in progress · updated " + new Date().toLocaleTimeString([], {timeZone: document.body.dataset.timeZone || undefined, hourCycle: "h23"});
    } catch (e) { state.textContent = "Connection lost; retrying…"; }
    clearTimeout(timer);
    timer = setTimeout(refresh, 3000);
  }
  setInterval(tick, 1000);
  refresh();
})();
