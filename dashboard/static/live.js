"use strict";

// The live group view: follows /api/live/stream (server-sent events) and keeps one card per
// running session current. The server renders the page whole, so without JavaScript it still
// reads (as it was when loaded); here the same cards are filled from the stream's JSON, with
// the words the server put in #live-connection's data-live-words in the reader's language.
(() => {
  const statusLine = document.getElementById("live-connection");
  const container = document.getElementById("live-cards");
  const emptyNote = document.getElementById("live-empty");
  const template = document.getElementById("live-card-template");
  if (!statusLine || !container || !template || typeof EventSource === "undefined") return;

  const words = JSON.parse(statusLine.dataset.liveWords);
  const lang = words.locale; // as the server writes numbers and times (English is British: a 24-hour clock)
  const wholeNumber = new Intl.NumberFormat(lang, { maximumFractionDigits: 0 });
  const clockTime = new Intl.DateTimeFormat(lang, { hour: "2-digit", minute: "2-digit", timeZone: words.time_zone });
  const MISSING = "—";

  const bpmText = (bpm) => (bpm === null ? MISSING : words.bpm.replace("{bpm}", wholeNumber.format(bpm)));
  const mmss = (seconds) => {
    const whole = Math.round(seconds);
    return `${String(Math.floor(whole / 60)).padStart(2, "0")}:${String(whole % 60).padStart(2, "0")}`;
  };
  const activityText = (s) => {
    const value = s.kind === "walking" ? s.cadence_spm : s.reps;
    return value === null ? MISSING : wholeNumber.format(value);
  };
  const alertText = (alert, s) => words.alerts[alert].replace("{ceiling}", bpmText(s.ceiling_bpm));

  // Text is only replaced when it changes, so the polite live region is not re-announced every second.
  function setText(element, text) {
    if (element.textContent !== text) element.textContent = text;
  }

  function field(card, name) {
    return card.querySelector(`[data-field="${name}"]`);
  }

  function newCard(s) {
    const card = template.content.firstElementChild.cloneNode(true);
    card.id = `live-session-${s.session_id}`;
    card.dataset.sessionId = String(s.session_id);
    card.setAttribute("aria-labelledby", `live-name-${s.session_id}`);
    card.querySelector(".live-name").id = `live-name-${s.session_id}`;
    field(card, "link").href = `/sessions/${s.session_id}`;
    return card;
  }

  function fill(card, s) {
    setText(field(card, "link"), s.display_name);
    setText(field(card, "pseudonym"), s.pseudonym);
    setText(field(card, "kind"), words.kinds[s.kind] || s.kind);
    const started = field(card, "started");
    started.setAttribute("datetime", s.started_at);
    setText(started, clockTime.format(new Date(s.started_at)));
    setText(field(card, "hr"), bpmText(s.hr_bpm));
    card.dataset.hrAt = s.hr_at || "";
    setText(field(card, "zone"), s.zone ? words.zones[s.zone] : MISSING);
    setText(field(card, "ceiling"), bpmText(s.ceiling_bpm));
    setText(field(card, "elapsed"), mmss(s.elapsed_s));
    const activityLabel = words.activity[s.kind];
    field(card, "activity-row").hidden = !activityLabel;
    if (activityLabel) {
      setText(field(card, "activity-label"), activityLabel);
      setText(field(card, "activity"), activityText(s));
    }
    setText(field(card, "sensor"), words.sensors[s.sensor]);
    const alerts = s.alerts.join(" ");
    if (card.dataset.alerts !== alerts) {
      // Only a change of alerts is written into the role="alert" region, so each is announced once.
      card.dataset.alerts = alerts;
      card.classList.toggle("live-card-alert", s.alerts.length > 0);
      field(card, "alerts").replaceChildren(
        ...s.alerts.map((alert) => {
          const line = document.createElement("p");
          const mark = document.createElement("span");
          line.className = "live-alert";
          mark.className = "live-alert-mark";
          mark.setAttribute("aria-hidden", "true");
          mark.textContent = "!";
          line.append(mark, alertText(alert, s));
          return line;
        }),
      );
    }
  }

  function cardFor(s) {
    let card = document.getElementById(`live-session-${s.session_id}`);
    if (!card) {
      card = newCard(s);
      container.append(card);
    }
    fill(card, s);
    return card;
  }

  function showEmpty() {
    emptyNote.hidden = container.children.length > 0;
  }

  function applySnapshot(snapshot) {
    const cards = snapshot.sessions.map(cardFor);
    const keep = new Set(cards);
    for (const card of [...container.children]) if (!keep.has(card)) card.remove();
    // Reordered only when the order differs: moving a card would take the focus out of it.
    if (cards.some((card, i) => container.children[i] !== card)) container.append(...cards);
    showEmpty();
  }

  function setStatus(key) {
    if (statusLine.dataset.state === key) return;
    statusLine.dataset.state = key;
    statusLine.textContent = words[key];
  }

  const source = new EventSource("/api/live/stream");
  source.addEventListener("open", () => setStatus("connected"));
  source.addEventListener("error", () => setStatus(source.readyState === EventSource.CLOSED ? "closed" : "reconnecting"));
  source.addEventListener("snapshot", (event) => applySnapshot(JSON.parse(event.data)));
  source.addEventListener("session", (event) => {
    cardFor(JSON.parse(event.data));
    showEmpty();
  });
  source.addEventListener("ended", (event) => {
    document.getElementById(`live-session-${JSON.parse(event.data).session_id}`)?.remove();
    showEmpty();
  });
})();
