// The live view (templates/proctor/live.html): every running session's latest frame, checks and
// open incidents, refreshed every 3 s. Its API URL comes from the grid's data-live-url.
(function () {
  const grid = document.getElementById("live-grid"), state = document.getElementById("live-state");
  const template = document.getElementById("card-template");
  const cards = {};
  function card(session) {
    if (!cards[session.session]) {
      const node = template.content.firstElementChild.cloneNode(true);
      node.dataset.session = session.session;
      node.querySelector(".report-link").href = "/sessions/" + session.session + "/report";
      grid.appendChild(node);
      cards[session.session] = node;
    }
    return cards[session.session];
  }
  async function refresh() {
    try {
      const response = await fetch(grid.dataset.liveUrl, {credentials: "same-origin"});
      const data = await response.json();
      const seen = new Set();
      data.sessions.forEach(function (s) {
        const node = card(s);
        seen.add(String(s.session));
        node.querySelector(".student").textContent = s.student;
        node.querySelector(".status").textContent = s.status.replace("_", " ") +
          (s.shed ? " · overloaded: newest frames only (" + s.shed + " skipped in the last minute)" : "");
        const img = node.querySelector("img");
        if (s.frame && img.dataset.frame !== String(s.frame)) { img.src = "/api/v1/frames/" + s.frame + "/image"; img.dataset.frame = s.frame; }
        node.classList.toggle("has-frame", !!s.frame);
        const note = node.querySelector(".accommodation-note"), a = s.accommodation;
        note.hidden = !a;
        node.querySelector(".accommodation-text").textContent = a ? [a.reason, a.extra_label ? "extra time " + a.extra_label : "",
          a.exempt_labels.length ? "exempt from: " + a.exempt_labels.join("; ") : ""].filter(Boolean).join(" · ") : "";
        OpenProctor.renderChecks(node.querySelector(".checks"), s.checks);
        const list = node.querySelector(".incidents");
        list.innerHTML = "";
        s.incidents.forEach(function (i) {
          const li = document.createElement("li");
          li.className = "incident " + i.severity;
          li.innerHTML = '<a></a>';
          li.firstChild.href = "/incidents/" + i.id + "/";
          li.firstChild.textContent = i.label;
          list.appendChild(li);
        });
        node.classList.toggle("alert-card", s.incidents.length > 0);
      });
      Object.keys(cards).forEach(function (id) { if (!seen.has(id)) { cards[id].remove(); delete cards[id]; } });
      state.textContent = data.sessions.length + " session(s) in progress · updated " + new Date().toLocaleTimeString([], {timeZone: document.body.dataset.timeZone || undefined});
    } catch (e) { state.textContent = "Connection lost; retrying…"; }
    setTimeout(refresh, 3000);
  }
  refresh();
})();
