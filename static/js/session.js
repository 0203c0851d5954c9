// The idle logoff as the page shows it, and the coding form's drafts (docs/sessions.md).
//
// The server decides when a session ends (accounts.middleware.SessionIdleMiddleware);
// this script follows its clock: <meta name="session-timer"> says how long is left
// when the page was made, every response to htmx says it again (X-Session-Expires-In),
// and before warning or signing out the script asks the server (GET /session/, which
// does not count as activity). "Stay signed in", or any key or click in the page,
// slides the logoff (POST /session/, at most every few seconds).
//
// When the session has ended, the page is emptied of patient data at once and the
// sign-in page opens with `next` = this page. The coding form's codes (never document
// text) are kept as they are typed in sessionStorage (this tab only, gone when it
// closes), per user and encounter with the encounter version they were typed on, and
// put back when the chart opens again on that version.
(() => {
  const meta = document.querySelector('meta[name="session-timer"]');
  const DRAFT_PREFIX = "cw-draft:";
  const store = (() => {
    try {
      return window.sessionStorage;
    } catch {
      return null; // storage disabled: no drafts
    }
  })();

  function draftKeys() {
    if (!store) return [];
    const keys = [];
    for (let i = 0; i < store.length; i += 1) {
      const key = store.key(i);
      if (key && key.startsWith(DRAFT_PREFIX)) keys.push(key);
    }
    return keys;
  }

  // Signing out on purpose drops every draft of this tab, and no draft is written
  // after it (a recheck answered "signed out" while the sign-out goes through).
  let signingOut = false;
  document.addEventListener("submit", (event) => {
    if (event.target.matches && event.target.matches("form[data-signout]")) {
      signingOut = true;
      draftKeys().forEach((key) => store.removeItem(key));
    }
  });

  if (!meta) return; // not signed in: nothing to count down

  const user = meta.dataset.user;
  const statusUrl = meta.dataset.url;
  const loginUrl = meta.dataset.login;
  const warnMs = Number(meta.dataset.warning) * 1000;
  const idleMs = Number(meta.dataset.idle) * 1000;
  // Keys and clicks slide the logoff at most this often (the server writes the
  // session at most once a minute anyway).
  const keepaliveEveryMs = Math.max(1000, Math.min(60000, idleMs / 10));
  let deadline = Date.now() + Number(meta.dataset.expiresIn) * 1000;
  let ended = false;
  let asking = false;
  let lastKeepalive = Date.now();
  let warning = null;
  let discarding = false;

  // Another user's drafts never stay in a tab this user works in.
  draftKeys()
    .filter((key) => !key.startsWith(`${DRAFT_PREFIX}${user}:`))
    .forEach((key) => store.removeItem(key));

  function followServer(seconds) {
    const left = Number(seconds);
    if (Number.isFinite(left)) deadline = Date.now() + left * 1000;
  }

  async function askServer(method) {
    const headers = {};
    const token = document.querySelector("meta[name=csrf-token]");
    if (method === "POST" && token) headers["X-CSRFToken"] = token.content;
    const response = await fetch(statusUrl, {
      method,
      headers,
      credentials: "same-origin",
      cache: "no-store",
    });
    if (response.status === 401) return false;
    if (!response.ok) throw new Error(`session ${response.status}`);
    const body = await response.json();
    followServer(body.expires_in);
    return true;
  }

  // One question to the server at a time; "Stay signed in" pressed while one is out
  // is sent as soon as it is answered.
  let keepalivePending = false;
  function answered() {
    asking = false;
    if (keepalivePending) {
      keepalivePending = false;
      keepalive();
    }
  }

  function keepalive() {
    if (ended) return;
    if (asking) {
      keepalivePending = true;
      return;
    }
    lastKeepalive = Date.now();
    asking = true;
    askServer("POST")
      .then((signedIn) => (signedIn ? hideWarning() : signOut()))
      .catch(() => {})
      .finally(answered);
  }

  // --- the warning ------------------------------------------------------------------
  function clock(ms) {
    const s = Math.max(0, Math.ceil(ms / 1000));
    return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
  }

  function showWarning() {
    if (!warning) {
      // The focus stays where it is: taking it would end the edit of a code box
      // (its recheck) and swallow the key that was meant for it. Any key or click
      // keeps the session, and the text is read out as an alert.
      warning = document.createElement("div");
      warning.className = "session-warning";
      warning.dataset.testid = "session-warning";
      const text = document.createElement("p");
      text.setAttribute("role", "alert");
      text.append("No activity for a while: you will be signed out in ");
      const count = document.createElement("b");
      count.dataset.testid = "session-countdown";
      text.append(count, ". Press any key or Stay signed in to go on; typed codes are kept in this tab.");
      const stay = document.createElement("button");
      stay.type = "button";
      stay.className = "primary";
      stay.dataset.testid = "stay-signed-in";
      stay.textContent = "Stay signed in";
      stay.addEventListener("click", keepalive);
      warning.append(text, stay);
      document.body.append(warning);
    }
    warning.querySelector("[data-testid=session-countdown]").textContent = clock(deadline - Date.now());
  }

  function hideWarning() {
    if (!warning) return;
    warning.remove();
    warning = null;
  }

  // --- the logoff -------------------------------------------------------------------
  function here() {
    return window.location.pathname + window.location.search;
  }

  function signOut(location) {
    if (ended) return;
    saveDraft();
    ended = true;
    clearInterval(ticker);
    // Leaving a code box commits its edit (a change event, a recheck sent to the
    // server): blurred here, where the guard below stops that event.
    if (document.activeElement && document.activeElement.blur) document.activeElement.blur();
    // Patient data off the screen now, not after the sign-in page has loaded.
    const main = document.getElementById("main");
    // Requests still out would answer to elements no longer in the page, out of
    // reach of the handler below, and htmx would follow their redirect itself.
    if (main) {
      main.querySelectorAll("[hx-get], [hx-post]").forEach((el) => el.dispatchEvent(new Event("htmx:abort", { bubbles: true })));
    }
    const gone = document.createElement("section");
    gone.className = "card narrow";
    gone.dataset.testid = "signed-out";
    const title = document.createElement("h1");
    title.textContent = "Signed out";
    const text = document.createElement("p");
    text.textContent = "Your session ended after a time without activity. Opening the sign-in page…";
    gone.append(title, text);
    if (main) main.replaceChildren(gone);
    document.querySelectorAll("body > :not(header):not(footer):not(#main)").forEach((el) => {
      if (el.tagName !== "SCRIPT") el.remove();
    });
    document.title = "Signed out · Coding workbench";
    const next = new URLSearchParams({ next: here(), idle: "1" });
    window.location.replace(location || `${loginUrl}?${next}`);
  }

  // Once the session has ended nothing more is sent for the page: no recheck, no
  // typeahead (window, capturing: before htmx and coding.js see the event).
  ["input", "change", "submit", "keydown"].forEach((type) =>
    window.addEventListener(
      type,
      (event) => {
        if (!ended) return;
        event.preventDefault();
        event.stopImmediatePropagation();
      },
      true,
    ),
  );

  // The chart's "unsaved changes" question (coding.js) has no place once the session
  // ended, nor after Discard: this listener runs before it (this script comes first).
  window.addEventListener("beforeunload", (event) => {
    if (ended || discarding) event.stopImmediatePropagation();
  });

  async function tick() {
    if (ended || asking) return;
    const left = deadline - Date.now();
    if (left > warnMs) {
      hideWarning();
      return;
    }
    if (warning && left > 0) {
      showWarning(); // the countdown
      return;
    }
    // Entering the warning, or at the end: the server says how long is really left
    // (another tab or a request of this one may have slid it).
    asking = true;
    try {
      const signedIn = await askServer("GET");
      if (!signedIn) {
        signOut();
        return;
      }
      const now = deadline - Date.now();
      if (now > warnMs) hideWarning();
      else showWarning();
    } catch {
      if (left <= 0) signOut(); // no answer at the end: the screen is cleared anyway
    } finally {
      answered();
    }
  }
  const ticker = setInterval(tick, 500);
  // A laptop waking from sleep: timers were paused, the clock was not.
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") tick();
  });

  function activity() {
    if (ended) return;
    if (warning || Date.now() - lastKeepalive >= keepaliveEveryMs) keepalive();
  }
  window.addEventListener("keydown", activity, true);
  window.addEventListener("pointerdown", activity, true);

  document.addEventListener("htmx:afterRequest", (event) => {
    const xhr = event.detail.xhr;
    const left = xhr && xhr.getResponseHeader("X-Session-Expires-In");
    if (left !== null && left !== undefined) followServer(left);
  });
  // The server refused a request because the session had ended (the middleware sends
  // htmx to the sign-in page): empty the page before going there.
  document.addEventListener("htmx:beforeOnLoad", (event) => {
    const xhr = event.detail.xhr;
    const location = xhr && xhr.getResponseHeader("HX-Redirect");
    if (location && location.startsWith(loginUrl)) {
      event.preventDefault();
      if (!signingOut) signOut(location); // else the sign-out's own page is on its way
    } else if (location && draftForm() && event.detail.elt === draftForm()) {
      removeDraft(); // submitted: the codes went with it
    }
  });

  // --- drafts of the coding form ----------------------------------------------------
  function draftForm() {
    return document.querySelector("form#coding-form[data-draft-encounter]");
  }

  function draftKey(form) {
    return `${DRAFT_PREFIX}${user}:${form.dataset.draftEncounter}`;
  }

  function formVersion(form) {
    const input = form.querySelector("input[name=version]");
    return input ? input.value : "";
  }

  const FIELDS = { dx: ["code", "poa"], px: ["system", "code", "date", "modifiers", "units"] };

  function rowsOf(form, kind) {
    return Array.from(form.querySelectorAll(`.code-row[data-kind="${kind}"]`));
  }

  function fieldOf(row, kind, field) {
    return row.querySelector(`[name^="${kind}-"][name$="-${field}"]`);
  }

  // The codes of the form, rows without a code aside: codes only, no document text.
  function codesOf(form) {
    const codes = {};
    Object.entries(FIELDS).forEach(([kind, fields]) => {
      codes[kind] = rowsOf(form, kind)
        .map((row) => Object.fromEntries(fields.map((f) => [f, (fieldOf(row, kind, f) || {}).value || ""])))
        .filter((row) => row.code.trim());
    });
    return codes;
  }

  function sameCodes(a, b) {
    return JSON.stringify(a) === JSON.stringify(b);
  }

  let restoring = false; // the draft is put back: not overwritten halfway

  function saveDraft() {
    const form = draftForm();
    if (!form || !store || ended || restoring || signingOut) return;
    const draft = { version: formVersion(form), at: Date.now(), ...codesOf(form) };
    try {
      store.setItem(draftKey(form), JSON.stringify(draft));
    } catch {
      // storage full or refused: the draft is a convenience, the form still works
    }
  }

  function removeDraft() {
    const form = draftForm();
    if (form && store) store.removeItem(draftKey(form));
  }

  function formField(event) {
    const form = draftForm();
    return form && event.target && form.contains(event.target) && event.target.name;
  }
  // Window, capturing: before coding.js, which may hold an event while a recheck is out.
  window.addEventListener("input", (event) => formField(event) && saveDraft(), true);
  window.addEventListener("change", (event) => formField(event) && saveDraft(), true);

  // Saved (a new panel comes back marked as holding the saved codes): no draft to
  // keep. The form the page opened with is marked so too, and other swaps (the
  // suggestions of a code box) leave it in place: only a new form counts.
  let shownForm = draftForm();
  document.addEventListener("htmx:afterSettle", () => {
    const form = draftForm();
    if (!form || form === shownForm) return;
    shownForm = form;
    if (form.dataset.saved === "1") removeDraft();
  });

  // Leaving the chart by a link (coding.js asked first when codes were unsaved).
  window.addEventListener("click", (event) => {
    const link = event.target.closest && event.target.closest("a[href]");
    if (!link || event.defaultPrevented || !draftForm()) return;
    if (link.getAttribute("href").startsWith("#") || link.target === "_blank") return;
    if (event.ctrlKey || event.metaKey || event.shiftKey) return;
    removeDraft();
  });

  function hhmm(ms) {
    const at = new Date(ms);
    return `${String(at.getHours()).padStart(2, "0")}:${String(at.getMinutes()).padStart(2, "0")}`;
  }

  function describe(codes) {
    return [...codes.dx, ...codes.px]
      .map((row) => (row.poa ? `${row.code} (POA ${row.poa})` : row.code))
      .join(", ");
  }

  function notice(testid, text, form) {
    const box = document.createElement("p");
    box.className = "banner banner-info draft-notice";
    box.setAttribute("role", "status");
    box.dataset.testid = testid;
    box.append(text, " ");
    const discard = document.createElement("button");
    discard.type = "button";
    discard.dataset.testid = "discard-draft";
    discard.textContent = "Discard";
    box.append(discard);
    const layout = form.closest(".coding-layout") || form;
    layout.before(box);
    return discard;
  }

  function waitFor(test, ms) {
    return new Promise((resolve) => {
      const start = Date.now();
      const poll = () => {
        if (test() || Date.now() - start > ms) resolve(test());
        else setTimeout(poll, 50);
      };
      poll();
    });
  }

  function fill(el, value) {
    if (!el || el.value === value) return;
    el.value = value;
    el.dispatchEvent(new Event("input", { bubbles: true }));
    el.dispatchEvent(new Event("change", { bubbles: true }));
  }

  // Rows are added the way the coder adds them (the form's own "+ Add" buttons), then
  // filled, each value with the events typing makes, so the form rechecks itself.
  async function restore(draft) {
    for (const kind of ["dx", "px"]) {
      for (let i = 0; i < draft[kind].length; i += 1) {
        if (rowsOf(draftForm(), kind).length <= i) {
          const add = draftForm().querySelector(`[data-testid=add-${kind}]`);
          if (!add) return false;
          const before = rowsOf(draftForm(), kind).length;
          add.click();
          if (!(await waitFor(() => draftForm() && rowsOf(draftForm(), kind).length > before, 5000))) return false;
        }
        const row = rowsOf(draftForm(), kind)[i];
        // The row looked up again for each field: a recheck may have replaced it.
        FIELDS[kind].forEach((f) => fill(fieldOf(rowsOf(draftForm(), kind)[i], kind, f), draft[kind][i][f]));
        // A recheck is out and will replace the panel: continue on the new one.
        await waitFor(() => draftForm() && rowsOf(draftForm(), kind)[i] !== row, 300);
      }
    }
    return true;
  }

  function offerDraft() {
    const form = draftForm();
    const raw = form && store && store.getItem(draftKey(form));
    if (!raw) return;
    let draft;
    try {
      draft = JSON.parse(raw);
    } catch {
      store.removeItem(draftKey(form));
      return;
    }
    const codes = { dx: draft.dx || [], px: draft.px || [] };
    if (sameCodes(codes, codesOf(form))) {
      store.removeItem(draftKey(form));
      return;
    }
    const discardDraft = () => {
      store.removeItem(draftKey(form));
      discarding = true;
      window.location.reload();
    };
    if (draft.version !== formVersion(form)) {
      notice(
        "draft-stale",
        `Codes typed at ${hhmm(draft.at)} were not restored: the encounter was changed since ` +
          `(version ${draft.version}, now ${formVersion(form)}). They were: ${describe(codes) || "none"}.`,
        form,
      ).addEventListener("click", () => {
        store.removeItem(draftKey(form));
        document.querySelector("[data-testid=draft-stale]").remove();
      });
      return;
    }
    notice("draft-restored", `Draft restored from ${hhmm(draft.at)} —`, form).addEventListener("click", discardDraft);
    restoring = true;
    restore(codes).finally(() => {
      restoring = false;
    });
  }

  // Once htmx has wired the form (on DOMContentLoaded, its listener registered
  // first): the events of the restore must reach it.
  function start() {
    const form = draftForm();
    waitFor(() => !form || form["htmx-internal-data"], 2000).then(offerDraft);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
