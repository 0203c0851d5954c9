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
    input.dataset.closedFor = input.value; // a late reply to these keys does not reopen it
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
      const input = document.querySelector(`[aria-controls="${box.id}"]`);
      if (input && input.dataset.closedFor === input.value) {
        event.detail.shouldSwap = false;
        return;
      }
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

  // A recheck or a save gets back only what the server computes, swapped out of band
  // (templates/encounters/detail.html#coding-parts): the inputs stay in the page as
  // typed, so keys pressed while a reply is out land where they were typed. Rows are
  // added, moved and removed here, in the page, and the form is rechecked.
  const isCodingForm = (elt) => Boolean(elt) && elt.id === "coding-form";
  const ROW_ACTION = /^(add|up|down|remove):(dx|px)(?::(\d+))?$/;
  const NUMBERED = ["id", "name", "for", "aria-controls", "aria-activedescendant", "hx-target", "hx-vals", "hx-include", "data-pcs-build", "aria-label"];
  let layout = 0; // rows added, moved or removed: the row verdicts of a reply sent before are stale
  let pendingAction = null; // the button pressed (Save, Submit…): it goes with the next request
  let outgoing = null; // the form's request out: { layout, sent, codes }

  const listOf = (f, kind) => f.querySelector(`.code-rows[data-kind="${kind}"]`);
  const rowsOf = (f, kind) => Array.from(f.querySelectorAll(`.code-rows[data-kind="${kind}"] > .code-row`));
  const codeBox = (row) => row && row.querySelector("input.code-input");

  // Fields are named by position (dx-0-code…), as the server reads them.
  function renumber(f, kind) {
    const list = listOf(f, kind);
    const rows = rowsOf(f, kind);
    rows.forEach((row, i) => {
      row.dataset.index = String(i);
      for (const el of [row, ...row.querySelectorAll("*")]) {
        for (const name of NUMBERED) {
          const before = el.getAttribute(name);
          if (before === null) continue;
          let after = before.replace(/\b(dx|px)-(\d+|__n__)-/g, `${kind}-${i}-`);
          after = after.replace(/(diagnosis|procedure) (\d+|__c__)/, `$1 ${i + 1}`);
          if (after !== before) el.setAttribute(name, after);
        }
        if (el.tagName === "BUTTON" && el.name === "action") el.value = el.value.replace(/:(\d+|__n__)$/, `:${i}`);
        if (el.tagName === "LABEL") el.textContent = el.textContent.replace(/(Diagnosis|Procedure) (\d+|__c__)/, `$1 ${i + 1}`);
      }
      const seq = row.querySelector(".seq");
      if (seq) seq.textContent = i === 0 ? list.dataset.first : String(i + 1);
    });
    const count = f.querySelector(`input[name="${kind}-count"]`);
    if (count) count.value = String(rows.length);
    const none = list.querySelector(":scope > .none");
    if (none) none.hidden = rows.length > 0;
  }

  // Add, move or remove a row as the server would (encounters.forms._row_action).
  function rowAction(f, action) {
    const [, verb, kind, index] = ROW_ACTION.exec(action);
    const list = listOf(f, kind);
    const rows = rowsOf(f, kind);
    const n = Number(index);
    const row = rows[n];
    if (verb === "add") {
      const template = document.getElementById(`${kind}-row-template`);
      if (!template) return;
      const added = template.content.firstElementChild.cloneNode(true);
      list.insertBefore(added, list.querySelector(":scope > .none"));
      renumber(f, kind);
      htmx.process(added);
      codeBox(added).focus();
    } else if (!row) {
      return;
    } else if (verb === "remove") {
      const focused = row.contains(document.activeElement);
      row.remove();
      renumber(f, kind);
      const rest = rowsOf(f, kind);
      const next = rest[Math.min(n, rest.length - 1)] || f.querySelector(`[data-testid=add-${kind}]`);
      if (focused && next) (codeBox(next) || next).focus();
    } else if (verb === "up" || verb === "down") {
      // The neighbour moves, not the row: the box being typed in keeps its focus.
      if (verb === "up" && n > 0) row.after(rows[n - 1]);
      else if (verb === "down" && n < rows.length - 1) row.before(rows[n + 1]);
      else return;
      renumber(f, kind);
      if (!row.contains(document.activeElement)) codeBox(row).focus();
    }
    layout += 1;
    f.dispatchEvent(new Event("change", { bubbles: true })); // the recheck
  }

  document.addEventListener(
    "click",
    (event) => {
      const button = event.target.closest && event.target.closest("button[name=action]");
      const f = form();
      if (!button || !f || !f.contains(button) || !ROW_ACTION.test(button.value)) return;
      event.preventDefault();
      event.stopPropagation(); // not htmx's "last button clicked" either
      rowAction(f, button.value);
    },
    true,
  );

  // ICD-10-PCS has no modifiers and has the table builder: a row's boxes follow its system.
  function showForSystem(row) {
    const system = row.querySelector("select.system");
    if (!system) return;
    const pcs = system.value === "icd10pcs";
    const mods = row.querySelector("input.mods");
    if (mods) {
      mods.hidden = pcs;
      mods.disabled = pcs;
    }
    const build = row.querySelector("[data-pcs-build]");
    if (build) build.hidden = !pcs;
  }
  document.addEventListener(
    "change",
    (event) => {
      if (event.target.matches && event.target.matches(".code-row select.system")) showForSystem(event.target.closest(".code-row"));
    },
    true,
  );

  // The button pressed goes with the request that is sent next: at once, or after
  // the reply out (hx-sync queues the last one, with the values as they are then).
  document.addEventListener(
    "submit",
    (event) => {
      if (!isCodingForm(event.target)) return;
      const button = event.submitter;
      pendingAction = button && button.name === "action" ? button.value : "check";
    },
    true,
  );

  function sentValues(f) {
    return Array.from(f.querySelectorAll("input[name]"))
      .filter((el) => el.type !== "hidden")
      .map((el) => [el, el.value]);
  }

  document.addEventListener("htmx:configRequest", (event) => {
    const f = event.detail.elt;
    if (!isCodingForm(f)) return;
    event.detail.formData.set("action", pendingAction || "check");
    pendingAction = null;
    outgoing = { layout, sent: sentValues(f), codes: codesNow() };
  });

  document.addEventListener("htmx:beforeSwap", (event) => {
    const { elt, xhr } = event.detail;
    if (!isCodingForm(elt) || !outgoing || outgoing.layout === layout || xhr.getResponseHeader("HX-Retarget")) return;
    // Rows moved since this request went out: its verdicts are by the old positions.
    // The recheck the move sent brings the right ones.
    const html = new DOMParser().parseFromString(event.detail.serverResponse, "text/html");
    html.querySelectorAll(".row-verdict").forEach((el) => el.remove());
    event.detail.serverResponse = html.body.innerHTML;
  });

  document.addEventListener("htmx:afterRequest", (event) => {
    const f = form();
    if (!isCodingForm(event.detail.elt) || !f || !event.detail.successful) return;
    const sent = outgoing;
    outgoing = null;
    // Each row shows the worst of its verdict.
    f.querySelectorAll(".code-row > .row-verdict").forEach((verdict) => {
      const row = verdict.parentElement;
      const level = `level-${verdict.dataset.level || "none"}`;
      const old = Array.from(row.classList).filter((c) => c.startsWith("level-") && c !== level);
      row.classList.remove(...old);
      row.classList.add(level);
    });
    // A list of suggestions left open under another box: gone, as once the panel was.
    f.querySelectorAll(".code-input").forEach((input) => {
      if (input !== document.activeElement) close(input);
    });
    if (!sent || !f.contains(sent.sent[0] && sent.sent[0][0])) return;
    // The value attribute says what the server last checked (a box typed in since
    // keeps what was typed).
    sent.sent.forEach(([el, value]) => {
      if (el.value === value && el.defaultValue !== value) el.defaultValue = value;
    });
    const version = document.getElementById("coding-version");
    if (version && version.dataset.saved === "1") {
      savedCodes = sent.codes; // the codes as sent are the saved ones
      delete version.dataset.saved;
    }
  });

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
