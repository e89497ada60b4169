// The exam page: answers saved as they change and never lost (queued in localStorage while the server
// cannot be reached, retried with backoff, flushed before submit), webcam frames every capture interval
// (kept while offline, sent with their capture time on reconnect), the countdown and browser events.
(function () {
  "use strict";

  const form = document.getElementById("exam-form");
  if (!form) { return; }
  const sessionId = +form.dataset.session;
  const interval = (+form.dataset.interval || 10) * 1000;
  const doneUrl = form.dataset.doneUrl;
  const video = document.getElementById("cam"), canvas = document.getElementById("grab");
  const strip = document.getElementById("checks"), frameState = document.getElementById("frame-state");
  const saveState = document.getElementById("save-state"), submitButton = document.getElementById("submit-exam");

  function leave() { window.location = doneUrl; }

  // --- Answers --------------------------------------------------------------------------------------
  // ``pending`` maps question id -> latest unsaved value; it lives in localStorage so that a reload (or
  // a crash) while the server is unreachable loses nothing.
  const storageKey = "openproctor:answers:" + sessionId;
  const fieldsets = {};
  document.querySelectorAll("fieldset.exam-question").forEach(function (f) { fieldsets[f.dataset.question] = f; });
  // ``givenAt`` maps question id -> when its pending value was given (ms, the server's clock): an answer given
  // before the deadline while offline is still taken a few minutes after it (exams.taking.LATE_ANSWERS).
  let pending = {}, givenAt = {};
  try { pending = JSON.parse(window.localStorage.getItem(storageKey) || "{}") || {}; } catch (e) { pending = {}; }
  try { givenAt = JSON.parse(window.localStorage.getItem(storageKey + ":at") || "{}") || {}; } catch (e) { givenAt = {}; }
  const fromOtherWindow = {};  // questions whose pending answer was given in another window (below)
  let reconnecting = false, signedOut = false, timeUp = false;
  // Someone signed out, or signed in as someone else, in another tab of this browser: the server refuses this page's
  // answers and frames (they are not this person's any more). They are kept here until the student signs in again;
  // an audit found every later answer refused and marked "Not saved" with no reason, and its frames dropped.
  const signedOutNote = document.getElementById("signed-out");
  function showSignedOut(on) {
    if (signedOut === on) { return; }
    signedOut = on;
    signedOutNote.hidden = !on;
    if (!on) { flush(); }
  }
  function notSavedText() { return signedOut ? "Not saved — sign in again" : "Not saved — reconnecting…"; }

  function persist() {
    try {
      if (Object.keys(pending).length) {
        window.localStorage.setItem(storageKey, JSON.stringify(pending));
        window.localStorage.setItem(storageKey + ":at", JSON.stringify(givenAt));
      } else {
        window.localStorage.removeItem(storageKey);
        window.localStorage.removeItem(storageKey + ":at");
      }
    } catch (e) { /* storage full or disabled: the in-memory queue still retries */ }
  }

  function mark(questionId, state, text) {
    const fieldset = fieldsets[questionId];
    if (!fieldset) { return; }
    fieldset.dataset.save = state;
    fieldset.querySelector(".saved").textContent = text;
  }

  // #save-state is the one live region of saving (each question's own line is not): written only when its words
  // change, as a live region rewritten with the same words is read again (an audit: 146 announcements in 4 s of typing).
  const saveWords = Object.getOwnPropertyDescriptor(Node.prototype, "textContent");
  Object.defineProperty(saveState, "textContent", {
    get: function () { return saveWords.get.call(this); },
    set: function (text) { if (saveWords.get.call(this) !== text) { saveWords.set.call(this, text); } },
  });

  function showOverall() {
    const waiting = Object.keys(pending).length;
    if (timeUp && waiting) {
      saveState.textContent = "Time is up. Reconnecting to save the answers you gave before the deadline — keep this page open.";
      saveState.dataset.state = "offline";
    } else if (!waiting) {
      // An answer the server refused (its question says why) is not saved: "All answers saved." over one said
      // otherwise (a re-audit: signed in as someone else in another tab, every later answer was refused).
      const refused = Object.keys(fieldsets).filter(function (id) { return fieldsets[id].dataset.save === "error"; });
      saveState.textContent = refused.length ? (refused.length === 1 ? "1 answer was" : refused.length + " answers were") +
        " not saved: the question says why." : "All answers saved.";
      saveState.dataset.state = refused.length ? "error" : "saved";
    } else if (reconnecting) {
      saveState.textContent = notSavedText() + " (" + waiting + " answer" + (waiting > 1 ? "s" : "") +
        " kept on this device)";
      saveState.dataset.state = "offline";
    } else {
      saveState.textContent = "Saving…";
      saveState.dataset.state = "saving";
    }
  }

  function valueOf(fieldset) {
    if (fieldset.dataset.kind === "choice") {
      const checked = fieldset.querySelector("input[type=radio]:checked");
      return checked ? +checked.value : null;
    }
    return fieldset.querySelector("textarea").value;
  }

  function restore(questionId, value) {
    const fieldset = fieldsets[questionId];
    if (!fieldset) { delete pending[questionId]; return; }
    if (fieldset.dataset.kind === "choice") {
      fieldset.querySelectorAll("input[type=radio]").forEach(function (input) { input.checked = +input.value === value; });
    } else {
      fieldset.querySelector("textarea").value = value;
    }
  }

  // Each answer's time (hidden ``t<id>``, posted with the submit form): when it was given, as the page was sent or
  // since. Of two answers to a question the server keeps the one given later, so an older window's submit (its form
  // carries every answer) no longer overwrites what was answered since in a newer one. A change here is always later
  // than the answer it replaces, even if the page's clock was set back in between.
  function givenInput(questionId) {
    const fieldset = fieldsets[questionId];
    return fieldset ? fieldset.querySelector("input[name=t" + questionId + "]") : null;
  }
  function noteGiven(questionId, when) {
    const input = givenInput(questionId);
    if (input && !isNaN(when)) { input.value = new Date(when).toISOString(); input.dataset.given = "1"; }
  }
  function givenNow(questionId) {
    const input = givenInput(questionId), before = input ? Date.parse(input.value) : NaN;
    return isNaN(before) ? OpenProctor.serverNow() : Math.max(OpenProctor.serverNow(), before + 1);
  }

  function queue(questionId, value) {
    // Given after the deadline: not an answer. Before the page leaves (a moment after it), a key typed then stamped
    // the whole unsent text with a time after the deadline, and all of it was refused (a re-audit).
    if (timeUp || OpenProctor.serverNow() > deadline) { return; }
    delete fromOtherWindow[questionId];
    pending[questionId] = value;
    givenAt[questionId] = givenNow(questionId);
    noteGiven(questionId, givenAt[questionId]);
    persist();
    tellOtherWindows({kind: "answer", question: questionId, value: value, at: givenAt[questionId]});
    mark(questionId, reconnecting ? "offline" : "saving", reconnecting ? notSavedText() : "Saving…");
    showOverall();
  }

  // Send every pending answer once; answers true when nothing is left pending.
  async function sendPending() {
    for (const questionId of Object.keys(pending)) {
      const value = pending[questionId], body = {question: +questionId, value: value};
      if (givenAt[questionId]) { body.answered_at = new Date(givenAt[questionId]).toISOString(); }
      let result;
      try {
        result = await OpenProctor.api("/api/v1/sessions/" + sessionId + "/answers", body);
      } catch (e) {
        result = null;  // the server could not be reached
      }
      if (OpenProctor.refusedAsWho(result) && !(await OpenProctor.stillSignedIn())) {
        showSignedOut(true);
        return false;  // kept, and tried again (below: at once when a frame goes through or the tab is shown again)
      }
      if (result && result.ok) { showSignedOut(false); }
      if (result && result.ok && result.data && result.data.kept_newer) {
        // Answered later in another window (or on another device): that answer stays, and shows here.
        if (pending[questionId] === value) {
          delete pending[questionId];
          restore(questionId, result.data.value);
          noteGiven(questionId, Date.parse(result.data.answered_at));
          mark(questionId, "saved", "Changed in another window — this is the newer answer, saved.");
          showProgress();
        }
      } else if (result && result.ok) {
        if (pending[questionId] === value) {
          delete pending[questionId];
          mark(questionId, "saved", fromOtherWindow[questionId] ? "Changed in another window — saved." : "Saved");
        }
      } else if (result && result.status === 409) {
        // The exam is over, or the server refused an answer given before the deadline: the done page says which
        // (it sends what this device kept once more, and tells the student what could not be saved). Dropped
        // here, the done page said "your saved answers were kept" over a refused one (a re-audit).
        leave();
        return false;
      } else if (result && [400, 404, 413, 422].indexOf(result.status) >= 0) {
        // The server refused this value: retrying cannot help, say why.
        if (pending[questionId] === value) { delete pending[questionId]; }
        mark(questionId, "error", OpenProctor.errorMessage(result, "Not saved"));
      } else {
        return false;  // offline, a server fault or a rate limit: keep everything, retry later
      }
      persist();
    }
    return true;
  }

  const flush = OpenProctor.retrying(sendPending, function (done) {
    persist();
    reconnecting = !done;
    if (!done) {
      Object.keys(pending).forEach(function (id) { mark(id, "offline", notSavedText()); });
    }
    showOverall();
    if (timeUp && done) { leave(); }
  });

  Object.keys(fieldsets).forEach(function (questionId) {
    const fieldset = fieldsets[questionId];
    let timer = null;
    fieldset.addEventListener("change", function () {
      clearTimeout(timer);
      queue(questionId, valueOf(fieldset));
      flush();
    });
    fieldset.addEventListener("input", function () {
      if (fieldset.dataset.kind !== "text") { return; }
      queue(questionId, valueOf(fieldset));  // kept at once; sent when typing pauses
      clearTimeout(timer);
      timer = setTimeout(flush, 800);
    });
  });
  window.addEventListener("offline", function () {
    reconnecting = true;
    Object.keys(pending).forEach(function (id) { mark(id, "offline", "Not saved — reconnecting…"); });
    showOverall();
  });

  // --- The exam in two windows (tabs) of this browser ----------------------------------------------------
  // The windows tell each other each answer as it is given: the other shows it at once (its own older answer stayed
  // on screen marked "Saved" until it sent it: an audit) and keeps it as its own, to send (the same answer and time
  // twice is saved once) and to keep on this device: both windows write the one list the device keeps, so a window
  // that kept only its own answers there dropped the other's. A window that opens says so with every answer it
  // holds, and the others answer with theirs: each takes those given later than its own. (A window opened while
  // another was saving was built before that save landed and missed its message; the student went on typing in the
  // stale text, and the newer text was lost: a re-audit.) Each tells the student while another is open, and the
  // exam's staff see an "Exam open in two windows" (second_window) incident, as the page reports leaving the tab.
  // When one submits, the others leave for the done page. Another browser or device cannot be heard here: the server
  // keeps the later of two answers from those (the "kept_newer" answer above).
  const windowId = Math.random().toString(36).slice(2) + Date.now().toString(36);
  const channel = window.BroadcastChannel ? new BroadcastChannel("openproctor:exam:" + sessionId) : null;
  const otherWindows = {}, otherWindowNote = document.getElementById("other-window");
  const otherWindowBadge = document.getElementById("other-window-badge");  // in the exam bar: on a phone the note
                                                                            // above the questions is scrolled away
  const reportedKey = "openproctor:second-window:" + sessionId;  // per tab (sessionStorage): a reload is the same tab
  let otherWindowTimer = null;
  function tellOtherWindows(message) {
    if (channel) { channel.postMessage(Object.assign({from: windowId}, message)); }
  }
  // When this window's answer to a question was given; NaN when it holds none (an unanswered question's time is the
  // page's own, when it was sent, not an answer's).
  function givenTime(questionId) {
    const input = givenInput(questionId);
    return input && input.dataset.given ? Date.parse(input.value) : NaN;
  }
  function givenAnswers() {
    const answers = {};
    Object.keys(fieldsets).forEach(function (questionId) {
      const at = givenTime(questionId);
      if (!isNaN(at)) { answers[questionId] = {value: valueOf(fieldsets[questionId]), at: at}; }
    });
    return answers;
  }
  function otherWindowsChanged(id, open) {
    const seen = Boolean(otherWindows[id]);
    if (open) { otherWindows[id] = true; } else { delete otherWindows[id]; }
    [otherWindowNote, otherWindowBadge].forEach(function (shown) {
      if (shown) { shown.hidden = !Object.keys(otherWindows).length; }
    });
    return seen;
  }
  // An answer given in another window: taken when it is later than this window's.
  function adopt(questionId, value, at) {
    if (timeUp || !fieldsets[questionId] || typeof at !== "number") { return; }
    const mine = givenTime(questionId);
    if (!isNaN(mine) && !(at > mine)) { return; }  // this window's answer is the later one
    restore(questionId, value);
    noteGiven(questionId, at);
    pending[questionId] = value;
    givenAt[questionId] = at;
    fromOtherWindow[questionId] = true;
    persist();
    mark(questionId, reconnecting ? "offline" : "saving", "Changed in another window — saving…");
    showOverall();
    showProgress();
    if (dialog.open) { describeMissing(); }  // the submit dialog said a question was unanswered (a re-audit)
    clearTimeout(otherWindowTimer);  // typing there sends a message a key: send when it pauses, as typing here
    otherWindowTimer = setTimeout(flush, 800);
  }
  if (channel) {
    channel.onmessage = function (event) {
      const message = event.data || {};
      if (!message.from || message.from === windowId) { return; }
      if (message.kind === "bye") { otherWindowsChanged(message.from, false); return; }
      if (message.kind === "submitted") { leave(); return; }
      const known = otherWindowsChanged(message.from, true);
      if (message.kind === "hello") { tellOtherWindows({kind: "here", answers: givenAnswers()}); }
      if (message.kind === "here" && !known) {
        // This window opened while another was open: reported once per tab, not again on a reload of it.
        let reported = false;
        try { reported = window.sessionStorage.getItem(reportedKey) === "1"; } catch (e) { reported = false; }
        if (!reported) {
          try { window.sessionStorage.setItem(reportedKey, "1"); } catch (e) { /* reported again, merged by staff */ }
          report("second_window", "the exam is open in another window or tab of this browser");
        }
      }
      if (message.kind === "hello" || message.kind === "here") {
        const answers = message.answers || {};
        Object.keys(answers).forEach(function (questionId) {
          adopt(questionId, answers[questionId].value, answers[questionId].at);
        });
      } else if (message.kind === "answer") {
        adopt(message.question, message.value, message.at);
      }
    };
    window.addEventListener("pagehide", function () { tellOtherWindows({kind: "bye"}); });
    // A goodbye sent as a tab closes is not always heard (nor is one from a crashed tab): each tab also holds a lock
    // of its own while it lives (Web Locks), and the others look for it every few seconds.
    const lockPrefix = "openproctor:exam:" + sessionId + ":";
    if (navigator.locks && navigator.locks.query) {
      navigator.locks.request(lockPrefix + windowId, function () { return new Promise(function () {}); })
        .catch(function () {});
      setInterval(function () {
        if (!Object.keys(otherWindows).length) { return; }
        navigator.locks.query().then(function (state) {
          const live = {};
          (state.held || []).forEach(function (lock) {
            if (lock.name.indexOf(lockPrefix) === 0) { live[lock.name.slice(lockPrefix.length)] = true; }
          });
          Object.keys(otherWindows).forEach(function (id) { if (!live[id]) { otherWindowsChanged(id, false); } });
        }).catch(function () {});
      }, 3000);
    }
    window.addEventListener("pageshow", function (event) {
      if (event.persisted) { tellOtherWindows({kind: "hello", answers: givenAnswers()}); }
    });
  }

  // --- Progress: "n of m answered" and the question navigator -----------------------------------------
  const answeredN = document.getElementById("answered-n");
  const navLinks = {};
  document.querySelectorAll("#question-nav a[data-nav]").forEach(function (a) { navLinks[a.dataset.nav] = a; });

  function isAnswered(fieldset) {
    const value = valueOf(fieldset);
    return fieldset.dataset.kind === "choice" ? value !== null : value.trim() !== "";
  }

  function unanswered() {
    return Object.keys(fieldsets).map(function (id) { return fieldsets[id]; })
      .filter(function (f) { return !isAnswered(f); })
      .sort(function (a, b) { return +a.dataset.number - +b.dataset.number; });
  }

  function showProgress() {
    let count = 0;
    Object.keys(fieldsets).forEach(function (id) {
      const done = isAnswered(fieldsets[id]);
      count += done ? 1 : 0;
      const link = navLinks[id];
      if (link) {
        link.classList.toggle("answered", done);
        link.querySelector(".qlink-state").textContent = done ? ", answered" : ", not answered";
      }
    });
    if (answeredN) { answeredN.textContent = count; }
  }

  // Going to a question (navigator or the submit dialog's list) puts the keyboard focus in it.
  function goTo(questionId) {
    const fieldset = fieldsets[questionId];
    if (!fieldset) { return; }
    fieldset.scrollIntoView({block: "start"});
    const input = fieldset.querySelector("input:checked") || fieldset.querySelector("input, textarea");
    if (input) { input.focus({preventScroll: true}); }
    if (window.history && window.history.replaceState) { window.history.replaceState(null, "", "#question-" + questionId); }
  }
  Object.keys(navLinks).forEach(function (id) {
    navLinks[id].addEventListener("click", function (event) { event.preventDefault(); goTo(id); });
  });
  Object.keys(fieldsets).forEach(function (id) {
    fieldsets[id].addEventListener("change", showProgress);
    fieldsets[id].addEventListener("input", showProgress);
  });

  // Answers kept from an earlier visit are newer than the page's: show them and send them (when they were given:
  // the server keeps an answer given after them, and says so).
  Object.keys(pending).forEach(function (id) {
    restore(id, pending[id]);
    if (givenAt[id]) { noteGiven(id, givenAt[id]); }
  });
  showProgress();
  Object.keys(pending).forEach(function (id) { mark(id, "saving", "Saving…"); });
  if (Object.keys(pending).length) { showOverall(); flush(); }
  // Said once the answers this device kept are back in the form: they are among this window's answers.
  tellOtherWindows({kind: "hello", answers: givenAnswers()});

  // Submit: flush what is pending, wait until the server answers, then post the form (which carries the
  // current value of every answer; the server saves them and submits in one transaction). The form is posted
  // with fetch so that a server error (5xx: nothing was saved, the transaction rolled back) is retried here
  // with backoff, the exam still on the screen, instead of an error page replacing it; the server's redirect
  // is then followed. Any other answer (a 4xx: a stale CSRF token, say) is posted natively so that its own
  // page explains it.
  // Submitting asks first, in a dialog that lists the unanswered questions (each a link to it).
  let submitting = false;
  const dialog = document.getElementById("submit-dialog");
  const summary = document.getElementById("unanswered-summary"), list = document.getElementById("unanswered-list");
  let goingTo = null;

  // The dialog's list of unanswered questions; again while it is open when another window answers one.
  function describeMissing() {
    const missing = unanswered();
    list.textContent = "";
    summary.textContent = missing.length === 0 ? "You answered every question." :
      "You have not answered " + missing.length + " question" + (missing.length > 1 ? "s" : "") + ":";
    missing.forEach(function (fieldset) {
      const item = document.createElement("li"), link = document.createElement("a");
      link.href = "#question-" + fieldset.dataset.question;
      link.textContent = "Question " + fieldset.dataset.number + (fieldset.dataset.prompt ? ": " + fieldset.dataset.prompt : "");
      link.addEventListener("click", function (event) {
        event.preventDefault();
        goingTo = fieldset.dataset.question;
        dialog.close("cancel");
        goTo(goingTo);  // at once: the dialog's close event comes a task later (it repeats this, harmlessly)
      });
      item.appendChild(link);
      list.appendChild(item);
    });
    return missing;
  }
  function askToSubmit() {
    const missing = describeMissing();
    goingTo = null;
    dialog.returnValue = "";
    dialog.showModal();
    // With questions left, the safe choice has the focus; with none, submitting does.
    document.getElementById(missing.length ? "submit-cancel" : "submit-confirm").focus();
  }

  dialog.addEventListener("close", function () {
    if (dialog.returnValue === "confirm") { submit(); return; }
    if (goingTo !== null) { goTo(goingTo); } else { submitButton.focus(); }
  });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (submitting || dialog.open) { return; }
    askToSubmit();
  });

  async function submit() {
    if (submitting) { return; }
    submitting = true;
    submitButton.disabled = true;
    for (let delay = 1000; ; delay = Math.min(delay * 2, 15000)) {
      await flush();
      let probe = null;
      try { probe = await OpenProctor.getJSON("/api/v1/sessions/" + sessionId + "/"); } catch (e) { probe = null; }
      if (probe && probe.ok && probe.data && probe.data.status !== "in_progress") { leave(); return; }
      let posted = null;
      // Asked whatever the probe answered: staff signed in there may read the session (a re-audit: the submit then
      // went to a "Not allowed" page over the exam).
      if (probe && probe.status < 500 && !(await OpenProctor.stillSignedIn())) {
        // Posted now, the submit went to the sign-in page and the exam stayed open, while this page left as if
        // submitted: it waits for the student instead.
        showSignedOut(true);
      } else if (probe && probe.status < 500) {
        saveState.textContent = "Submitting…";
        // The token the page was built with is stale once the student signed in again (Django rotates it): the
        // submit was refused (403) and the page showed Django's CSRF error over the exam.
        const token = form.querySelector('input[name="csrfmiddlewaretoken"]');
        if (token && OpenProctor.csrfToken()) { token.value = OpenProctor.csrfToken(); }
        try {
          posted = await fetch(form.action, {method: "POST", body: new FormData(form), credentials: "same-origin",
                                             redirect: "manual"});
        } catch (e) { posted = null; }
        // The server answers a submit with a redirect (to the done page, or wherever the session now is).
        if (posted && (posted.type === "opaqueredirect" || (posted.status >= 300 && posted.status < 400))) {
          tellOtherWindows({kind: "submitted"});  // the exam's other windows leave too (they kept taking typing)
          leave();
          return;
        }
        if (posted && posted.status < 500) { HTMLFormElement.prototype.submit.call(form); return; }
      }
      saveState.textContent = signedOut ?
        "Not submitted — this browser is no longer signed in as you. Sign in again; your exam is submitted then." :
        posted ?
        "Not submitted — the server could not take it just now; trying again… Your answers are kept." :
        "Not submitted — reconnecting… Your exam is submitted as soon as the connection is back.";
      saveState.dataset.state = "offline";
      await new Promise(function (resolve) {
        const timer = setTimeout(resolve, delay);
        window.addEventListener("online", function () { clearTimeout(timer); resolve(); }, {once: true});
      });
    }
  }

  // The sticky bar's height, for the page's scroll padding (app.css): a focused answer is scrolled clear of it.
  const bar = document.querySelector(".exam-bar");
  if (bar && window.ResizeObserver) {
    new ResizeObserver(function () {
      document.documentElement.style.setProperty("--exam-bar-height", bar.offsetHeight + "px");
    }).observe(bar);
  }

  // --- Countdown; when time is up the server expires the session ---------------------------------------
  const timerEl = document.getElementById("timer");
  // The deadline as the page opened with it; the inbox (readInbox) brings it again when it moves (an admin moved the
  // exam's closing, added extra time or unlocked it: a proctor's audit saw the live view at 1:36 while the student's
  // page said 18:30, then "Time ran out" under a clock at 16:24).
  let deadline = Date.parse(timerEl.dataset.deadline);
  const announceEl = document.getElementById("timer-announce"), LEAVE_AFTER_MS = 1500;
  let announced = null;
  // A screen reader hears the time left when it first shows, at 30, 15, 10 and 5 minutes, each of the last
  // five minutes, and when time is up; not the clock's every second (the clock itself has no live region).
  function announce(left) {
    const minutes = Math.ceil(left / 60);
    const due = announced === null || left === 0 ||
      (minutes !== announced && (minutes <= 5 || [10, 15, 30].indexOf(minutes) >= 0));
    if (!announceEl || !due) { return; }
    announced = minutes;
    announceEl.textContent = left === 0 ? "Time is up." :
      minutes + (minutes === 1 ? " minute" : " minutes") + " left.";
  }
  // On the server's clock (camera.js reads the page's data-server-now): a computer whose clock ran 90 s fast showed
  // 1:30 less than was left, then bounced between the exam and the done page (the server had not expired the
  // session yet) hundreds of times (an audit).
  function tick() {
    const leftMs = deadline - OpenProctor.serverNow();
    const left = Math.max(0, Math.floor(leftMs / 1000));
    const h = Math.floor(left / 3600), m = Math.floor((left % 3600) / 60), s = left % 60;
    timerEl.textContent = (h ? h + ":" : "") + String(m).padStart(2, "0") + ":" + String(s).padStart(2, "0");
    timerEl.classList.toggle("low", left < 300);
    announce(left);
    // Left a moment after the deadline (the clock's offset is known to a second): the server has expired it by then.
    // Not while answers given before it wait for the connection: leaving offline showed the browser's error page,
    // and the answers were never sent (the flush retries, and leaves once they are saved or refused).
    if (leftMs <= -LEAVE_AFTER_MS) {
      timeUp = true;
      form.querySelectorAll("textarea, input").forEach(function (input) { input.readOnly = true; input.disabled = input.type === "radio"; });
      showOverall();
      flush().then(function (done) { if (done) { leave(); } });
      return;
    }
    setTimeout(tick, left === 0 ? 250 : 1000);
  }
  if (!isNaN(deadline)) { tick(); }

  // --- Browser events become incidents; never block the exam ------------------------------------------
  function report(kind, detail, back) {
    const body = {kind: kind, detail: detail || ""};
    if (back) { body.back = true; }
    OpenProctor.api("/api/v1/sessions/" + sessionId + "/events", body).catch(function () {});
  }
  // Leaving the tab is reported a moment later, unless the page is unloaded meanwhile: a reload or a
  // navigation of the exam page (submitting, leaving at the deadline) hides the document on its way
  // out and fires pagehide in the same step, before any timer runs. That is not leaving the tab.
  // pagehide fires only when the page really goes, so a cancelled navigation hides nothing.
  let unloading = false, leaving = null, away = false;
  function reportLeaving(detail) {
    if (unloading || leaving !== null || away) { return; }
    leaving = setTimeout(function () {
      leaving = null;
      if (!unloading) { away = true; report("tab_hidden", detail); }
    }, 300);  // (the server counts the absence from 300 ms before the report: proctoring.review.LEAVE_REPORTED_AFTER)
  }
  // Back in the exam tab: the incident says how long the student was away (it said only when they left: an audit).
  function reportBack() {
    clearTimeout(leaving);
    leaving = null;
    if (away && !document.hidden) { away = false; report("tab_hidden", "back", true); }
  }
  window.addEventListener("pagehide", function () { unloading = true; clearTimeout(leaving); leaving = null; });
  window.addEventListener("pageshow", function () { unloading = false; });  // back from the back/forward cache
  document.addEventListener("visibilitychange", function () {
    if (document.hidden) { reportLeaving("tab hidden"); } else { reportBack(); }
  });
  window.addEventListener("blur", function () { if (!document.hidden) { reportLeaving("window lost focus"); } });
  window.addEventListener("focus", reportBack);
  const fullscreenButton = document.getElementById("fullscreen");
  fullscreenButton.addEventListener("click", function () {
    if (document.documentElement.requestFullscreen) { document.documentElement.requestFullscreen().catch(function () {}); }
  });
  document.addEventListener("fullscreenchange", function () {
    fullscreenButton.hidden = !!document.fullscreenElement;
    if (!document.fullscreenElement) { report("fullscreen_exit", "left full screen"); }
  });
  ["copy", "paste", "cut"].forEach(function (name) { document.addEventListener(name, function () { report("copy_paste", name); }); });

  // --- Messages from a proctor (the live view): shown until acknowledged; an ended session says why ----
  const inbox = document.getElementById("proctor-messages"), letter = document.getElementById("proctor-message-template");
  const shownMessages = {};
  let ended = false;
  function showEnded(reason) {
    if (ended) { return; }
    ended = true;
    inbox.innerHTML = "";
    const box = document.createElement("div");
    box.className = "proctor-message ended";
    box.setAttribute("role", "alert");
    box.id = "session-ended";
    box.textContent = "Your session was ended by a proctor: " + reason;
    inbox.appendChild(box);
    submitButton.disabled = true;
    setTimeout(function () { flush().finally(leave); }, 5000);  // the done page says it again
  }
  // The session's inbox (its status, deadline and messages) comes with every frame's answer (the 202): the page asks
  // for it itself only when no frame brought it lately (the camera stopped, frames held back offline or refused), at
  // most every 4 s. Each page asked every 4 s before, about a third of its requests (scripts/loadgen.py does the same).
  const INBOX_FRESH_MS = Math.min(interval, 5000) + 1500, INBOX_POLL_MS = 4000;
  let inboxAt = 0, inboxPolledAt = 0;
  async function pollMessages() {
    if (ended || !inbox) { return; }
    const now = Date.now();
    if (now - inboxAt >= INBOX_FRESH_MS && now - inboxPolledAt >= INBOX_POLL_MS) {
      inboxPolledAt = now;
      let result = null;
      try { result = await OpenProctor.getJSON(inbox.dataset.url); } catch (e) { result = null; }
      // (Not when a frame's answer brought it meanwhile: which of the two the server wrote first is not known, and
      // an older deadline read last would move the clock back, then forward with a second "time extended".)
      if (result && result.ok && result.data && inboxAt < now) { readInbox(result.data); }
    }
    if (!ended) { setTimeout(pollMessages, 1000); }
  }
  function readInbox(data) {
    if (ended || !inbox) { return; }
    inboxAt = Date.now();
    if (data.status === "terminated" && data.end_reason) { showEnded(data.end_reason); return; }
    const moved = data.deadline ? Date.parse(data.deadline) : NaN;
    if (!isNaN(moved) && moved !== deadline && !timeUp) {
      const running = !isNaN(deadline);
      if (running && moved > deadline && announceEl) {  // (said only if a threshold happened to be crossed: an audit)
        const minutes = Math.ceil((moved - OpenProctor.serverNow()) / 60000);
        announceEl.textContent = "Your time was extended: " + minutes + (minutes === 1 ? " minute" : " minutes") +
          " left.";
        announced = minutes;
      }
      deadline = moved;
      timerEl.dataset.deadline = data.deadline;
      if (!running) { tick(); }
    }
    data.messages.forEach(function (m) {
      if (shownMessages[m.id]) { return; }
      const node = letter.content.firstElementChild.cloneNode(true);
      node.dataset.message = m.id;
      node.querySelector(".text").textContent = m.text;
      node.querySelector(".ack").addEventListener("click", async function () {
        let ack = null;
        try { ack = await OpenProctor.api("/api/v1/messages/" + m.id + "/ack"); } catch (e) { ack = null; }
        if (ack && ack.ok) {
          // Focus goes on to the next message, or back to the exam (it fell to the page: an audit).
          const next = node.nextElementSibling || node.previousElementSibling;
          node.remove();
          const target = next ? next.querySelector(".ack") : document.querySelector("#exam-form input:not([type=hidden]), #exam-form textarea");
          if (target) { target.focus(); }
        }
      });
      shownMessages[m.id] = node;
      inbox.appendChild(node);
    });
  }
  if (inbox) { pollMessages(); }
  // The server says the session is over (a frame or an answer answered 409): a proctor who ended it gave
  // a reason, which this page says before it leaves (showEnded); otherwise leave at once.
  async function overNow() {
    let result = null;
    try { result = inbox ? await OpenProctor.getJSON(inbox.dataset.url) : null; } catch (e) { result = null; }
    if (result && result.ok && result.data && result.data.status === "terminated" && result.data.end_reason) {
      showEnded(result.data.end_reason);
    } else if (!ended) {
      leave();
    }
  }

  // --- Webcam frames every capture interval ---------------------------------------------------------
  // Posted without waiting (202); the strip follows the newest frame's status URL. Frames taken while
  // the server cannot be reached stay queued (bounded; kept on the device too, so a page closed meanwhile sends
  // them when the exam is opened again) and go, oldest first, when it answers again.
  const frames = new OpenProctor.FrameQueue(sessionId, {maxFrames: 20, maxBytes: 5 * 1024 * 1024, keep: true});
  let busy = false, ticks = 0, following = 0;

  const sayFrames = OpenProctor.sayOnce(document.getElementById("frame-announce"), 30000);
  function showFrames(outcome) {
    if (frames.size() && outcome.signedOut) {
      sayFrames("You are signed out: the camera's pictures are kept and sent when you sign in again.");
      frameState.textContent = frames.size() + " frame" + (frames.size() > 1 ? "s" : "") +
        " kept, sent when you sign in again.";
      frameState.dataset.state = "offline";
    } else if (frames.size() && (outcome.offline || frames.offline)) {
      sayFrames("Offline: the camera's pictures are kept and sent when the connection is back.");
      frameState.textContent = "Offline — " + frames.size() + " frame" + (frames.size() > 1 ? "s" : "") +
        " kept, sent when the connection is back.";
      frameState.dataset.state = "offline";
    } else {
      if (frameState.dataset.state === "offline") { sayFrames("Connected again: the pictures kept are sent."); }
      frameState.textContent = "";
      frameState.dataset.state = "online";
    }
  }

  // A screen reader is told what the strip asks of the student when it first appears, once: the hints of failing
  // checks and the notices (an audit: "looking away" and "camera frozen" were never spoken, and blind students are
  // the likeliest to be flagged for looking away without knowing).
  // (Flicker is said once; words said within 30 s again only once they hold: say_once.js.)
  const sayAsks = OpenProctor.sayOnce(document.getElementById("strip-announce"), 30000);
  function sayStrip() {
    sayAsks(Array.from(strip.querySelectorAll(".check.fail")).map(function (chip) {
      const hint = chip.querySelector(".hint");
      return hint ? hint.textContent : chip.querySelector(".name").textContent;
    }).filter(Boolean).join(" "));
  }

  function notice(test, message) {
    const note = document.createElement("div");
    note.className = "check fail";
    note.setAttribute("data-test", test);
    note.innerHTML = '<span class="dot"></span><span class="name"></span>';
    note.querySelector(".name").textContent = message;
    return note;
  }

  async function follow(result) {
    const token = ++following;
    let checks = null, attention = null, identity = null, camera = null;
    if (Array.isArray(result.data)) {
      checks = result.data;
    } else if (result.status === 202 && result.data && result.data.status_url) {
      const frame = await OpenProctor.followStatus(result.data.status_url, Math.min(8, interval / 1000));
      checks = frame && frame.status === "done" ? frame.checks : null;
      attention = frame && frame.status === "done" ? frame.attention : null;
      identity = frame && frame.status === "done" ? frame.identity : null;
      camera = frame && frame.status === "done" ? frame.camera : null;
    }
    if (token !== following || !Array.isArray(checks) || cameraStopped) { return; }  // the stopped note stays
    // No "face the camera" hint the student cannot act on: they have no reference photo, or a proctor checked
    // their photo ID (their face need not match the reference).
    const quiet = form.dataset.approved === "1" || Boolean(identity && identity.reason === "no_reference");
    OpenProctor.renderChecks(strip, checks, quiet ? ["Person Recognition"] : []);
    if (attention && attention.away) { strip.appendChild(notice("Looking away", attention.message)); }
    if (camera && camera.frozen) { strip.appendChild(notice("Camera frozen", camera.message)); }
    if (camera && camera.covered) { strip.appendChild(notice("Camera covered", camera.message)); }
    strip.dataset.frames = (+strip.dataset.frames || 0) + 1;
    sayStrip();
  }

  async function capture() {
    if (busy || cameraStopped) { return; }  // a stopped camera's frames are black: none is sent
    busy = true;
    ticks += 1;
    try {
      // With a backlog, take every other frame so that the queue drains under a per-interval rate limit.
      if (frames.size() < 2 || ticks % 2 === 0) { frames.push(OpenProctor.grab(video, canvas), Date.now()); }
      const outcome = await frames.flush();
      showFrames(outcome);
      if (outcome.signedOut) { showSignedOut(true); } else if (outcome.sent) { showSignedOut(false); }
      if (outcome.over) { overNow(); return; }
      if (outcome.last && outcome.last.ok && outcome.last.data && outcome.last.data.inbox) {
        readInbox(outcome.last.data.inbox);
      }
      if (outcome.last && outcome.last.ok) { follow(outcome.last); }
    } finally {
      busy = false;
    }
  }
  window.addEventListener("online", function () { capture(); });
  // Back from the tab where they signed in again: send what waited for them now, not at the next retry.
  document.addEventListener("visibilitychange", function () {
    if (signedOut && document.visibilityState === "visible") { flush(); capture(); }
  });
  // The camera stopped (unplugged, taken by another app, its permission withdrawn): its frames would be black, and a
  // proctor read "camera covered or dark" (a proctor's audit). The page sends none, says so and offers to turn it on
  // again; the live view shows the camera going stale, and a "camera stopped" incident.
  let cameraStopped = false;
  // A stop this tab reported is remembered over a reload, so that the camera running again (the button, or the page
  // reloaded to get it back) ends its incident; a page that never saw its camera stop reports nothing.
  const stoppedKey = "openproctor:camera-stopped:" + sessionId;
  function cameraBack() {
    let stopped = true;
    try { stopped = window.sessionStorage.getItem(stoppedKey) === "1"; window.sessionStorage.removeItem(stoppedKey); }
    catch (e) { stopped = true; }
    if (stopped) { report("camera_stopped", "camera on again", true); }
  }
  function watch(stream) {
    stream.getVideoTracks().forEach(function (track) {
      track.addEventListener("ended", function () {
        cameraStopped = true;
        report("camera_stopped", "camera track ended");
        try { window.sessionStorage.setItem(stoppedKey, "1"); } catch (e) { /* no storage: a reload does not say */ }
        const note = notice("Camera stopped", "Your camera stopped: no picture is sent. ");
        note.id = "camera-stopped";
        const again = document.createElement("button");
        again.type = "button";
        again.className = "btn small";
        again.id = "camera-restart";
        again.textContent = "Turn the camera on again";
        again.addEventListener("click", function () {
          OpenProctor.startCamera(video).then(function (restarted) {
            cameraStopped = false;
            cameraBack();  // the "camera stopped" incident ends now
            note.remove();
            watch(restarted);
            capture();
          }).catch(function () { again.textContent = "The camera could not start: check it, then try again"; });
        });
        note.appendChild(again);
        strip.replaceChildren(note);
        sayAsks("Your camera stopped: no picture is sent. Use the button Turn the camera on again.");
      });
    });
  }
  OpenProctor.startCamera(video).then(function (stream) {
    capture();
    setInterval(capture, interval);
    watch(stream);
    cameraBack();  // a "camera stopped" incident this tab reported before a reload ends now
  }).catch(function () {
    report("camera_stopped", "camera unavailable or denied");
    try { window.sessionStorage.setItem(stoppedKey, "1"); } catch (e) { /* as above */ }
    strip.innerHTML = '<div class="check fail"><span class="dot"></span><span class="name">Camera unavailable</span></div>';
  });
})();
