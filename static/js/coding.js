// Keyboard use of the coding form.
// In a code box: type, ↓/↑ move through the suggestions, Enter takes the highlighted
// one (with none highlighted: the first, when words were typed and the list answers
// them; otherwise it just checks what was typed), Esc closes the list. Alt+↑/↓ moves the row,
// Alt+Delete removes it, Alt+D / Alt+P add a diagnosis / procedure, Alt+S saves,
// Alt+N submits and opens the next encounter.
// When Submit lists what is still open, Esc there means "Keep coding".
// Enter never submits the form by itself: that would press the first button.
(() => {
  const form = () => document.getElementById("coding-form");

  function suggestFor(input) {
    return document.getElementById(input.getAttribute("aria-controls"));
  }

  function options(input) {
    const box = suggestFor(input);
    return box ? Array.from(box.querySelectorAll("[role=option]")) : [];
  }

  function highlight(input, index) {
    const items = options(input);
    if (!items.length) return;
    const active = Math.max(0, Math.min(index, items.length - 1));
    items.forEach((item, i) => item.setAttribute("aria-selected", i === active ? "true" : "false"));
    input.setAttribute("aria-activedescendant", items[active].id);
    items[active].scrollIntoView({ block: "nearest" });
  }

  // What the server reads as a code (codesets.search.looks_like_code): letters and
  // digits with at least one digit, no space; anything else is words.
  function looksLikeCode(text) {
    const plain = text.trim().replace(/\./g, "");
    return /^[A-Za-z0-9]{1,7}$/.test(plain) && /[0-9]/.test(plain);
  }

  function current(input) {
    return options(input).findIndex((item) => item.getAttribute("aria-selected") === "true");
  }

  function close(input) {
    const box = suggestFor(input);
    if (box) box.innerHTML = "";
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
  }

  function pick(input, item) {
    const list = item.closest(".suggest-list");
    if (list && window.acceptSuggestion) {
      window.acceptSuggestion(list.dataset.acceptUrl, list.dataset.query, list.dataset.system, item.dataset.code);
    }
    input.value = item.dataset.code;
    close(input);
    input.dispatchEvent(new Event("change", { bubbles: true }));
  }

  function clickIn(row, selector) {
    const button = row && row.querySelector(selector);
    if (button) button.click();
  }

  document.addEventListener("keydown", (event) => {
    const f = form();
    if (!f || !f.contains(event.target)) return;
    const target = event.target;
    const row = target.closest(".code-row");
    const confirm = target.closest(".confirm-submit");
    if (confirm && event.key === "Escape") {
      event.preventDefault();
      clickIn(confirm, "[data-testid=keep-coding]");
      return;
    }
    if (event.altKey) {
      const key = event.key.toLowerCase();
      const actions = {
        d: "[data-testid=add-dx]",
        p: "[data-testid=add-px]",
        s: "[data-testid=save]",
        n: "[data-testid=submit-next]",
      };
      if (actions[key]) {
        event.preventDefault();
        clickIn(f, actions[key]);
      } else if (event.key === "ArrowUp" && row) {
        event.preventDefault();
        clickIn(row, ".move-up");
      } else if (event.key === "ArrowDown" && row) {
        event.preventDefault();
        clickIn(row, ".move-down");
      } else if (event.key === "Delete" && row) {
        event.preventDefault();
        clickIn(row, ".remove");
      }
      return;
    }
    const isCode = target.classList && target.classList.contains("code-input");
    if (isCode && event.key === "ArrowDown") {
      event.preventDefault();
      highlight(target, current(target) + 1);
    } else if (isCode && event.key === "ArrowUp") {
      event.preventDefault();
      highlight(target, current(target) - 1);
    } else if (isCode && event.key === "Escape") {
      close(target);
    } else if (event.key === "Enter" && target.tagName === "INPUT") {
      event.preventDefault();
      if (isCode) {
        const items = options(target);
        const index = current(target);
        if (index >= 0) {
          pick(target, items[index]);
          return;
        }
        // Words, not a code, and the list answers exactly what is typed: Enter takes
        // the best suggestion, as an encoder does ("pneumonia" Enter -> J18.9).
        const list = items.length ? items[0].closest(".suggest-list") : null;
        if (list && list.dataset.query === target.value.trim() && !looksLikeCode(target.value)) {
          pick(target, items[0]);
          return;
        }
        close(target);
      }
      target.dispatchEvent(new Event("change", { bubbles: true }));
    }
  });

  document.addEventListener("click", (event) => {
    const item = event.target.closest && event.target.closest(".suggest [role=option]");
    if (!item) return;
    const box = item.closest(".suggest");
    const input = document.querySelector(`[aria-controls="${box.id}"]`);
    if (input) pick(input, item);
  });

  // A reply to a shorter query can arrive after the coder pressed ↓ on the list it
  // replaces: the highlighted code stays highlighted when the new list has it.
  const kept = new Map();
  document.addEventListener("htmx:beforeSwap", (event) => {
    const box = event.detail.target;
    if (box && box.classList && box.classList.contains("suggest")) {
      const item = box.querySelector("[role=option][aria-selected=true]");
      kept.set(box.id, item ? item.dataset.code : null);
    }
  });

  document.addEventListener("htmx:afterSwap", (event) => {
    const box = event.detail.target;
    if (box && box.classList && box.classList.contains("suggest")) {
      const input = document.querySelector(`[aria-controls="${box.id}"]`);
      if (input) {
        input.setAttribute("aria-expanded", box.querySelector("[role=option]") ? "true" : "false");
        input.removeAttribute("aria-activedescendant");
        const code = kept.get(box.id);
        kept.delete(box.id);
        const again = options(input).findIndex((item) => item.dataset.code === code);
        if (code && again >= 0) highlight(input, again);
      }
    }
  });

  // While the form's request is out, its reply replaces the whole panel, and htmx
  // drops a request queued on a form that is gone: a button pressed (Alt+D, Alt+S…)
  // or a value changed meanwhile would be lost. Hold them, and once the reply is in,
  // put the values back into the new form and press the buttons there, one per reply,
  // in the order pressed. Rows are numbered by position, and the request out may move
  // or remove one: held values and row buttons follow their row.
  let inFlight = null; // the XMLHttpRequest of the form's request out
  let inFlightForm = null;
  let inFlightAction = "";
  let inFlightSince = 0;
  const heldActions = [];
  const heldValues = new Map();
  const isCodingForm = (elt) => Boolean(elt) && elt.id === "coding-form";
  // A reply that never comes (a hung connection) must not hold the form for good.
  const STUCK_MS = 20000;

  function holding() {
    if (inFlight && Date.now() - inFlightSince > STUCK_MS) inFlight = null;
    return Boolean(inFlight);
  }

  // A row button's value: what it does, to which kind of row, at which position.
  const ROW_ACTION = /^(up|down|remove):(dx|px):(\d+)$/;

  // Where row `index` of `kind` is after `action` ran on the server; -1 if removed.
  function rowAfter(action, kind, index) {
    const m = ROW_ACTION.exec(action || "");
    if (!m || m[2] !== kind) return index;
    const n = Number(m[3]);
    if (m[1] === "up" && n > 0) {
      if (index === n) return n - 1;
      if (index === n - 1) return n;
    } else if (m[1] === "down") {
      if (index === n) return n + 1;
      if (index === n + 1) return n;
    } else if (m[1] === "remove") {
      if (index === n) return -1;
      if (index > n) return index - 1;
    }
    return index;
  }

  function idAfter(action, id) {
    const m = /^(dx|px)-(\d+)-(.+)$/.exec(id);
    if (!m) return id;
    const index = rowAfter(action, m[1], Number(m[2]));
    return index < 0 ? null : `${m[1]}-${index}-${m[3]}`;
  }

  function actionAfter(action, held) {
    const m = ROW_ACTION.exec(held);
    if (!m) return held;
    const index = rowAfter(action, m[2], Number(m[3]));
    return index < 0 ? null : `${m[1]}:${m[2]}:${index}`;
  }

  document.addEventListener("htmx:beforeSend", (event) => {
    if (!isCodingForm(event.detail.elt)) return;
    const config = event.detail.requestConfig || {};
    inFlight = event.detail.xhr;
    inFlightForm = event.detail.elt;
    inFlightAction = (config.formData && config.formData.get("action")) || "";
    inFlightSince = Date.now();
  });

  document.addEventListener(
    "submit",
    (event) => {
      if (!isCodingForm(event.target) || !holding()) return;
      event.preventDefault();
      event.stopPropagation();
      heldActions.push(event.submitter ? event.submitter.value : "");
    },
    true,
  );

  function hold(event, changed) {
    const f = form();
    const target = event.target;
    if (!f || !target.id || !f.contains(target) || !("value" in target) || !holding()) return;
    const before = heldValues.get(target.id);
    heldValues.set(target.id, { value: target.value, changed: changed || Boolean(before && before.changed) });
    if (changed) event.stopPropagation(); // the recheck is sent with the new form
  }
  document.addEventListener("input", (event) => hold(event, false), true);
  document.addEventListener("change", (event) => hold(event, true), true);

  // Keys typed after Alt+D / Alt+P, before the new row is there, belong in the new
  // row's code box, not in the box that still has the focus.
  let typedAhead = null; // { kind: "dx" | "px", text }
  function addPending() {
    if (!holding()) return null;
    const add = [...heldActions, inFlightAction].reverse().find((a) => /^add:(dx|px)$/.test(a || ""));
    return add ? add.slice(4) : null;
  }
  document.addEventListener(
    "keydown",
    (event) => {
      const f = form();
      if (!f || !f.contains(event.target) || event.altKey || event.ctrlKey || event.metaKey) return;
      const kind = addPending();
      const erase = event.key === "Backspace" && typedAhead && typedAhead.text;
      if (!kind || (event.key.length !== 1 && !erase)) return;
      event.preventDefault();
      event.stopPropagation();
      if (!typedAhead || typedAhead.kind !== kind) typedAhead = { kind, text: "" };
      typedAhead.text = erase ? typedAhead.text.slice(0, -1) : typedAhead.text + event.key;
    },
    true,
  );

  function putTypedAhead(f, ran) {
    const typed = typedAhead;
    if (!typed || ran !== `add:${typed.kind}`) return;
    typedAhead = null;
    const boxes = f.querySelectorAll(`.code-row[data-kind="${typed.kind}"] input.code-input`);
    const box = boxes[boxes.length - 1];
    if (!box || box.value) return;
    box.value = typed.text;
    box.focus();
    box.dispatchEvent(new Event("input", { bubbles: true })); // its suggestions
  }

  // The end of the request out. When its reply replaced the form, the new form is only
  // wired by htmx when the swap settles (~20 ms later): a button pressed on it before
  // then would submit the page natively. So events stay held until htmx:afterSettle,
  // and the replay happens there.
  let settling = null; // { xhr, ran }
  document.addEventListener("htmx:afterRequest", (event) => {
    const xhr = event.detail.xhr;
    if (!inFlight || xhr !== inFlight) return;
    const ran = inFlightAction;
    const replaced = !document.body.contains(inFlightForm);
    // The page is going elsewhere (submitted, signed out): nothing is replayed.
    const away = ["HX-Redirect", "HX-Refresh", "HX-Location"].some((h) => xhr.getResponseHeader(h));
    if (away || !form()) {
      inFlight = inFlightForm = settling = typedAhead = null;
      heldActions.length = 0;
      heldValues.clear();
      return;
    }
    if (replaced) {
      settling = { xhr, ran };
      return;
    }
    inFlight = inFlightForm = null;
    replay(ran, false);
  });

  document.addEventListener("htmx:afterSettle", (event) => {
    if (!settling || event.detail.xhr !== settling.xhr) return;
    const { ran } = settling;
    settling = null;
    inFlight = inFlightForm = null;
    replay(ran, true);
  });

  function replay(ran, replaced) {
    const f = form();
    const values = new Map(heldValues);
    heldValues.clear();
    if (!f) return;
    let recheck = false;
    values.forEach((held, id) => {
      if (!replaced) {
        // No new form (an error reply): the values are still in place, unsent.
        recheck = recheck || held.changed;
        return;
      }
      const moved = idAfter(ran, id);
      const el = moved && document.getElementById(moved);
      if (!el || !f.contains(el)) return;
      // Equal values: the key landed on the new form between the swap and its
      // settling (the change was held all the same): it still needs its recheck.
      if (el.value === held.value && !held.changed) return;
      el.value = held.value;
      if (held.changed) recheck = true;
      else if (el.classList.contains("code-input")) el.dispatchEvent(new Event("input", { bubbles: true }));
    });
    if (replaced) putTypedAhead(f, ran);
    else typedAhead = null;
    const pending = heldActions.splice(0).map((a) => (replaced ? actionAfter(ran, a) : a));
    heldActions.push(...pending.filter((a) => a !== null));
    while (heldActions.length) {
      const action = heldActions.shift();
      const button = Array.from(f.querySelectorAll("button[name=action]")).find((b) => b.value === action);
      if (button) {
        button.click(); // the next ones wait for its reply
        return;
      }
      recheck = true; // a plain check ("" or Enter) or a button no longer there
    }
    if (recheck) f.dispatchEvent(new Event("change", { bubbles: true }));
  }

  // "Skip to codes": the cursor goes to the first empty diagnosis box (else the
  // principal), where the work starts.
  document.addEventListener("click", (event) => {
    const link = event.target.closest && event.target.closest("[data-skip-to-codes]");
    const f = form();
    if (!link || !f) return;
    const boxes = Array.from(f.querySelectorAll('.code-row[data-kind="dx"] input.code-input'));
    const box = boxes.find((b) => !b.value) || boxes[0];
    if (!box) return;
    event.preventDefault();
    box.focus();
  });

  // Unsaved codes: leaving the chart (a link, Back, closing the tab) asks first. The
  // server marks a form whose codes are the saved ones (data-saved: opened, or just
  // saved); what is typed after that is compared with it, rows without a code aside.
  let savedCodes = null;
  let shownForm = null;
  let leaving = false; // submitted: the codes went with the request
  function codesNow() {
    const f = form();
    if (!f) return null;
    return Array.from(f.querySelectorAll(".code-row"))
      .filter((row) => {
        const box = row.querySelector("input.code-input");
        return box && box.value.trim();
      })
      .map((row) => {
        const fields = row.querySelectorAll("input[name], select[name]");
        return row.dataset.kind + ":" + Array.from(fields, (el) => el.value.trim()).join("|");
      })
      .join("\n");
  }
  function noteSaved() {
    const f = form();
    if (!f || f === shownForm) return;
    shownForm = f;
    if (f.dataset.saved === "1") savedCodes = codesNow();
  }
  function unsaved() {
    return !leaving && savedCodes !== null && codesNow() !== savedCodes;
  }
  noteSaved();
  // Before the replayed keys land in the new form (htmx:afterSettle).
  document.addEventListener("htmx:afterSwap", noteSaved);
  document.addEventListener("htmx:beforeOnLoad", (event) => {
    const xhr = event.detail.xhr;
    if (isCodingForm(event.detail.elt) && xhr && xhr.getResponseHeader("HX-Redirect")) leaving = true;
  });
  document.addEventListener("submit", (event) => {
    // Not taken by htmx: the page posts the form itself, codes included.
    if (isCodingForm(event.target) && !event.defaultPrevented) leaving = true;
  });
  document.addEventListener("click", (event) => {
    const link = event.target.closest && event.target.closest("a[href]");
    if (!link || event.defaultPrevented || link.getAttribute("href").startsWith("#")) return;
    if (link.target === "_blank" || event.ctrlKey || event.metaKey || event.shiftKey) return;
    if (!unsaved()) return;
    if (window.confirm("Your codes are not saved. Leave this encounter without saving them?")) {
      leaving = true;
    } else {
      event.preventDefault();
    }
  });
  window.addEventListener("beforeunload", (event) => {
    if (!unsaved()) return;
    event.preventDefault();
    event.returnValue = "";
  });
})();
