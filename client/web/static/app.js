// Chatham web app: small enhancements over pages that work without JavaScript.
// Live updates, notifications, a passphrase strength meter, draft autosave, upload progress.
// No inline script, no third-party code, nothing fetched from anywhere but this app.
"use strict";

(function () {
  const csrf = (document.querySelector('meta[name="csrf"]') || {}).content || "";
  const live = document.getElementById("live");

  function say(text) {
    if (!live) return;
    const p = document.createElement("p");
    p.textContent = text;
    live.appendChild(p);
    while (live.childNodes.length > 4) live.removeChild(live.firstChild);
  }

  // --- what the member typed must not be thrown away under them ---------------------------
  // Once the member types, a refresh never replaces the page under them (`typing`). A form
  // is also `unsaved` from its first keystroke until it is sent, or until its draft is kept
  // with nothing typed since (drafts, below): a lock must not reload it away.
  let typing = false;
  let locked = false;
  const unsaved = new Set();
  const typed = new WeakMap();  // form -> keystrokes so far
  const edited = new WeakSet();  // the fields typed into
  document.addEventListener("input", function (e) {
    const form = e.target && e.target.form;
    if (!form) return;
    typing = true;
    unsaved.add(form);
    typed.set(form, (typed.get(form) || 0) + 1);
    edited.add(e.target);
  });
  document.addEventListener("submit", function (e) {
    if (e.defaultPrevented) return;  // an upload: sent by script, it settles in its onload
    typing = false;
    unsaved.delete(e.target);
  });

  async function refresh() {
    if (typing) {
      say("The page has changed since it was loaded; it refreshes once you are done here.");
      return;
    }
    try {
      const resp = await fetch(location.href, { credentials: "same-origin", redirect: "follow" });
      if (locked) return;  // the page was asked for before the lock: it must not come back
      if (!resp.ok || resp.redirected) { location.reload(); return; }
      const doc = new DOMParser().parseFromString(await resp.text(), "text/html");
      const fresh = doc.getElementById("main");
      const main = document.getElementById("main");
      if (fresh && main) main.replaceChildren(...Array.from(fresh.childNodes).map(function (n) {
        return document.importNode(n, true);
      }));
      wire(main);
    } catch (err) {
      /* offline for a moment: the next event tries again */
    }
  }

  // --- notifications: only what the member chose ----------------------------------------
  function detail() {
    try { return localStorage.getItem("chatham-notify") || "off"; } catch (e) { return "off"; }
  }

  function notify(activity) {
    const level = detail();
    if (level === "off" || !("Notification" in window) || Notification.permission !== "granted") return;
    const body = level === "title" && activity.title ? activity.title : "";
    const n = new Notification(activity.text, { body: body, tag: "chatham", silent: false });
    if (activity.url) n.onclick = function () { window.focus(); location.assign(activity.url); };
  }

  // --- live updates ------------------------------------------------------------------------
  function listen() {
    if (!("EventSource" in window) || !document.body.dataset.group) return;
    const events = new EventSource("/events");
    events.addEventListener("changed", function (e) {
      const data = JSON.parse(e.data);
      if (document.querySelector("[data-waiting]") && data.status === "member") {
        location.assign("/");
        return;
      }
      const others = data.activity.filter(function (a) { return !a.mine; });
      others.forEach(function (a) { say(a.text); notify(a); });
      data.announcements.forEach(function (a) { if (!a.mine) say(a.text); });
      refresh();
    });
    events.addEventListener("health", refresh);
    events.addEventListener("locked", function () {
      events.close();
      locked = true;
      const texts = typedText();
      if (texts.length) showLocked(texts);
      else location.reload();  // nothing here but what the group wrote: to the unlock form
    });
  }

  // --- locked: the group's text leaves the screen, what the member typed stays --------------
  // A screen left alone shows nothing of the group once Chatham locks: the whole page
  // (items, names, the group's name, the tab's title) is replaced. Only the text the member
  // typed into a form kept nowhere (`unsaved`) stays, as text in read-only boxes to copy.
  const TEXTUAL = ["text", "search", "url", "email", "tel", "date", "time"];

  function typedText() {
    const texts = [];
    unsaved.forEach(function (form) {
      Array.from(form.elements).forEach(function (field) {
        const textual = field.tagName === "TEXTAREA" ||
          (field.tagName === "INPUT" && TEXTUAL.indexOf(field.type) >= 0);
        if (textual && edited.has(field) && field.value.trim()) texts.push(field.value);
      });
    });
    return texts;
  }

  function element(tag, text) {
    const node = document.createElement(tag);
    if (text) node.textContent = text;
    return node;
  }

  function showLocked(texts) {
    document.title = "Locked · Chatham";
    const header = element("header");
    header.className = "top";
    const bar = element("div");
    bar.className = "bar";
    const brand = element("span", "Chatham");
    brand.className = "brand";
    bar.appendChild(brand);
    header.appendChild(bar);

    const main = element("main");
    main.id = "main";
    main.className = "narrow";
    main.tabIndex = -1;
    main.appendChild(element("h1", "Chatham is locked"));
    main.appendChild(element("p",
      "What you typed here was not sent and is not saved: copy it somewhere safe, then unlock."));
    texts.forEach(function (text, n) {
      const field = element("div");
      field.className = "field";
      const label = element("label", texts.length === 1 ? "What you typed" :
        "What you typed (" + (n + 1) + " of " + texts.length + ")");
      label.htmlFor = "locked-" + n;
      const box = element("textarea", text);
      box.id = "locked-" + n;
      box.readOnly = true;
      box.rows = Math.min(12, Math.max(3, text.split("\n").length + 1));
      field.appendChild(label);
      field.appendChild(box);
      main.appendChild(field);
    });
    main.appendChild(element("p", "Unlocking leaves this page: the text above is then gone from it."));
    const unlock = element("button", "Unlock");
    unlock.type = "button";
    unlock.addEventListener("click", function () { location.assign("/unlock"); });
    main.appendChild(unlock);

    document.body.replaceChildren(header, main);
    main.focus();
  }

  // --- passphrase strength ----------------------------------------------------------------
  function strength(text) {
    if (!text) return 0;
    let classes = 0;
    [/[a-z]/, /[A-Z]/, /[0-9]/, /[^A-Za-z0-9]/].forEach(function (r) { if (r.test(text)) classes++; });
    const words = text.trim().split(/\s+/).length;
    let bits = text.length * Math.log2(Math.max(10, classes * 16));
    if (/^(.)\1+$/.test(text)) bits = 4;
    if (words >= 4 && text.length >= 20) bits = Math.max(bits, 70);
    if (text.length < 8) return 0;
    return bits < 40 ? 1 : bits < 60 ? 2 : bits < 80 ? 3 : 4;
  }
  const WORDS = ["too short", "weak", "fair", "good", "strong"];

  function wireStrength(root) {
    root.querySelectorAll("[data-strength]").forEach(function (input) {
      const meter = document.getElementById(input.dataset.strength);
      const words = root.querySelector("[data-strength-words]");
      if (!meter) return;
      meter.hidden = false;
      input.addEventListener("input", function () {
        const s = strength(input.value);
        meter.value = s;
        if (words) words.textContent = "Strength: " + WORDS[s];
      });
    });
  }

  // --- drafts: kept by this app, sealed in the member's store, never in the browser ----------
  function wireDrafts(root) {
    root.querySelectorAll("form[data-draft]").forEach(function (form) {
      const state = form.querySelector("[data-draft-state]");
      let timer = null;
      form.addEventListener("input", function () {
        clearTimeout(timer);
        timer = setTimeout(async function () {
          const body = new URLSearchParams(new FormData(form));
          const before = typed.get(form);
          let kept = false;
          try {
            const resp = await fetch("/drafts/" + form.dataset.draft, {
              method: "POST", body: body, credentials: "same-origin", redirect: "manual",
              headers: { "X-CSRF-Token": csrf },
            });
            kept = resp.status === 204;  // anything else (locked, signed out) kept nothing
          } catch (err) { /* the app is not running */ }
          if (kept && typed.get(form) === before) unsaved.delete(form);
          if (state) state.textContent = kept ?
            "Draft kept on this computer (sealed) until you post it." :
            "Not kept: Chatham is locked or stopped. Copy your text somewhere safe, then reload the page.";
        }, 1200);
      });
      form.addEventListener("submit", function () { clearTimeout(timer); });
    });
  }

  // --- uploads with progress ---------------------------------------------------------------
  function wireUploads(root) {
    root.querySelectorAll("form[data-upload]").forEach(function (form) {
      form.addEventListener("submit", function (e) {
        e.preventDefault();
        const bar = form.querySelector("[data-progress]");
        const state = form.querySelector("[data-upload-state]");
        const xhr = new XMLHttpRequest();
        xhr.open("POST", form.action);
        xhr.setRequestHeader("X-CSRF-Token", csrf);
        xhr.upload.onprogress = function (ev) {
          if (!ev.lengthComputable || !bar) return;
          bar.hidden = false;
          bar.value = Math.round((ev.loaded / ev.total) * 100);
          if (state) state.textContent = "Reading the file: " + bar.value + "%";
        };
        xhr.upload.onload = function () {
          if (state) state.textContent = "Sealing it on this computer and sending it to the server…";
        };
        xhr.onload = function () {
          typing = false;
          unsaved.delete(form);
          if (xhr.status === 200) {
            let go = null;
            try { go = new URL(JSON.parse(xhr.responseText).go, location.href); } catch (err) { /* a page */ }
            if (go) {
              // Back to this same page (with the new comment's anchor): load it afresh.
              if (go.pathname === location.pathname) { history.replaceState(null, "", go.href); location.reload(); }
              else location.assign(go.href);
              return;
            }
          }
          document.open(); document.write(xhr.responseText); document.close();
        };
        xhr.onerror = function () { if (state) state.textContent = "The upload failed; try again."; };
        xhr.send(new FormData(form));
      });
    });
  }

  // --- notification settings ---------------------------------------------------------------
  function wireSettings(root) {
    const form = root.querySelector("#notify-settings");
    if (!form) return;
    form.hidden = false;
    const state = form.querySelector("#notify-state");
    const current = detail();
    const box = form.querySelector('input[value="' + current + '"]');
    if (box) box.checked = true;
    form.addEventListener("change", async function (e) {
      const value = e.target.value;
      try { localStorage.setItem("chatham-notify", value); } catch (err) { /* private mode */ }
      if (value !== "off" && "Notification" in window && Notification.permission === "default") {
        await Notification.requestPermission();
      }
      if (state) {
        state.textContent = value === "off" ? "Notifications are off." :
          ("Notification" in window && Notification.permission === "granted") ?
            "Saved. Notifications appear while Chatham is open in this browser." :
            "Saved, but this browser does not allow notifications from Chatham.";
      }
    });
  }

  function wire(root) {
    wireStrength(root);
    wireDrafts(root);
    wireUploads(root);
    wireSettings(root);
  }

  wire(document);
  listen();
})();
