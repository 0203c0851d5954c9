// The ICD-10-PCS table builder, by keyboard.
// Open it with Alt+B from the encoder's box (it opens in the code panel, starting
// from the PCS code or table typed or highlighted there) or from a coding-form
// procedure row whose system is ICD-10-PCS (it opens in a dialog, starting from the
// row's code). In the builder's box: type the next character, or ↓/↑ then Enter to
// pick a value; Backspace goes back a step; Enter on a finished code puts it in the
// row's code box (coding form) or opens it (encoder); Esc leaves.
// The server computes each step; only the step below the box is swapped, never the
// box being typed in.
(() => {
  // The start of a PCS code: a section character, then PCS characters (no I, no O).
  const PCS_START = /^[0-9BCDFGHX][0-9A-HJ-NP-Z]{0,6}$/;
  const normalize = (text) => (text || "").toUpperCase().replace(/[.\s-]/g, "").slice(0, 7);
  const startFrom = (text) => (PCS_START.test(normalize(text)) ? normalize(text) : "");
  const codeBox = () => document.getElementById("pcs-builder-code");
  const stepEl = () => document.getElementById("pcs-builder-step");
  const options = () => Array.from(document.querySelectorAll("#pcs-builder-values [role=option]"));
  const dialog = () => document.getElementById("pcs-builder-dialog");
  let fillId = null; // the coding form's code box that receives the built code
  let pendingEnter = false; // Enter pressed before the step for the box's text came

  // The step on the page answers what the box holds now.
  function fresh() {
    const step = stepEl();
    const box = codeBox();
    return Boolean(step && box && step.dataset.typed === normalize(box.value));
  }

  function focusBox() {
    const box = codeBox();
    if (!box) return;
    box.focus();
    box.setSelectionRange(box.value.length, box.value.length);
  }

  function panelUrl(base, prefix, dos) {
    return `${base}?${new URLSearchParams({ fragment: "panel", code: prefix, dos: dos || "" })}`;
  }

  // Keys typed between Alt+B and the builder's arrival belong in the builder's box,
  // not in the box that still has the focus: held, then replayed there.
  let loading = null; // { keys: [...], enter: bool } while a panel is being fetched

  function load(host, url) {
    loading = { keys: [], enter: false };
    const arrived = () => {
      const held = loading;
      loading = null;
      const box = codeBox();
      highlightLone();
      focusBox();
      if (!box || !held) return;
      // The promise resolves before htmx wires the new panel (on settle): wire
      // the box now, or the replayed input would send nothing.
      htmx.process(box);
      const before = box.value;
      held.keys.forEach((key) => {
        box.value = key === "Backspace" ? box.value.slice(0, -1) : box.value + key;
      });
      if (box.value !== before) box.dispatchEvent(new Event("input", { bubbles: true }));
      if (held.enter) enter();
    };
    return htmx.ajax("GET", url, { target: host, swap: "innerHTML" }).then(arrived, arrived);
  }

  document.addEventListener(
    "keydown",
    (event) => {
      if (!loading || event.ctrlKey || event.metaKey || event.altKey) return;
      if (event.key.length === 1 || event.key === "Backspace") loading.keys.push(event.key);
      else if (event.key === "Enter") loading.enter = true;
      else return;
      event.preventDefault();
      event.stopPropagation();
    },
    true,
  );

  // --- opening ----------------------------------------------------------------

  function openInEncoder() {
    const opener = document.getElementById("pcs-builder-open");
    const query = document.getElementById("id_q");
    const dos = document.getElementById("id_dos");
    let prefix = startFrom(query ? query.value : "");
    // A PCS table or code highlighted in the results is where the coder is.
    const picked = document.querySelector("#results-list [role=option][aria-selected=true]");
    const match = picked && /\/icd10pcs\/([0-9A-Z]{1,7})\//.exec(picked.dataset.url || "");
    if (match) prefix = match[1];
    fillId = null;
    // Back to a builder left open (Esc): it keeps its code unless the search box
    // names another one, and is reloaded only for another date.
    const box = codeBox();
    const day = document.getElementById("pcs-builder-dos");
    const panel = document.getElementById("code-panel");
    if (box && panel && panel.contains(box) && day && dos && day.value === dos.value) {
      if (prefix && normalize(box.value) !== prefix) {
        box.value = prefix;
        box.dispatchEvent(new Event("input", { bubbles: true }));
      }
      focusBox();
      return;
    }
    load("#code-panel", panelUrl(opener.dataset.url, prefix, dos && dos.value));
  }

  function openForRow(input) {
    const d = dialog();
    if (!d || input.readOnly) return;
    fillId = input.id;
    const host = document.getElementById("pcs-builder-host");
    if (host) host.innerHTML = ""; // not the builder of another row or an earlier code
    if (!d.open) d.showModal();
    load("#pcs-builder-host", panelUrl(d.dataset.url, startFrom(input.value), d.dataset.dos)).then(() => {
      const close = d.querySelector("[data-pcs-close]");
      if (close) close.hidden = false;
    });
  }

  function isPcsRowBox(el) {
    const row = el.closest && el.closest('.code-row[data-kind="px"]');
    if (!row || !el.classList.contains("code-input")) return false;
    const system = row.querySelector("select.system");
    return Boolean(system && system.value === "icd10pcs");
  }

  // --- the steps ----------------------------------------------------------------

  function current() {
    return options().findIndex((item) => item.getAttribute("aria-selected") === "true");
  }

  function highlight(index) {
    const items = options();
    const box = codeBox();
    if (!items.length || !box) return;
    const active = Math.max(0, Math.min(index, items.length - 1));
    items.forEach((item, i) => item.setAttribute("aria-selected", i === active ? "true" : "false"));
    box.setAttribute("aria-activedescendant", items[active].id);
    items[active].scrollIntoView({ block: "nearest" });
  }

  // A step with one value (the knee's only approach, Open): Enter takes it.
  function highlightLone() {
    const box = codeBox();
    if (box) box.removeAttribute("aria-activedescendant");
    if (options().length === 1) highlight(0);
  }

  function choose(item) {
    const box = codeBox();
    box.value = item.dataset.prefix;
    box.dispatchEvent(new Event("input", { bubbles: true }));
    focusBox();
  }

  function enter() {
    if (!fresh()) {
      pendingEnter = true; // acted on when the step for the box's text is in
      return;
    }
    pendingEnter = false;
    const items = options();
    const index = current();
    const step = stepEl();
    if (index >= 0) choose(items[index]);
    else if (step.dataset.complete === "true") done(step);
  }

  function done(step) {
    const code = step.dataset.code;
    if (fillId) {
      const target = document.getElementById(fillId);
      fillId = null;
      const d = dialog();
      if (d && d.open) d.close();
      if (target) {
        target.value = code;
        target.focus();
        target.dispatchEvent(new Event("change", { bubbles: true })); // the form checks it
      }
      return;
    }
    const query = document.getElementById("id_q");
    if (query && document.getElementById("code-panel")) {
      query.value = code;
      query.dispatchEvent(new Event("input", { bubbles: true })); // the results show it
      htmx.ajax("GET", step.dataset.panelUrl, { target: "#code-panel", swap: "innerHTML" }).then(() => query.focus());
      return;
    }
    window.location.assign(step.dataset.panelUrl); // the builder's own page
  }

  document.addEventListener("keydown", (event) => {
    const target = event.target;
    const altB = event.altKey && !event.ctrlKey && !event.metaKey && (event.code === "KeyB" || event.key.toLowerCase() === "b");
    if (altB) {
      if (target.id === "id_q" && document.getElementById("pcs-builder-open")) {
        event.preventDefault();
        openInEncoder();
      } else if (isPcsRowBox(target)) {
        event.preventDefault();
        openForRow(target);
      }
      return;
    }
    if (target !== codeBox()) return;
    if (event.key === "ArrowDown") {
      event.preventDefault();
      highlight(current() + 1);
    } else if (event.key === "ArrowUp") {
      event.preventDefault();
      highlight(current() - 1);
    } else if (event.key === "Enter") {
      event.preventDefault();
      enter();
    } else if (event.key === "Escape" && !dialog()) {
      const query = document.getElementById("id_q");
      if (query) {
        event.preventDefault();
        query.focus();
      }
    }
  });

  document.addEventListener("click", (event) => {
    const el = event.target;
    if (!el.closest) return;
    const item = el.closest("#pcs-builder-values [role=option]");
    const build = el.closest("[data-pcs-build]");
    if (item) choose(item);
    else if (el.closest("#pcs-builder-open")) openInEncoder();
    else if (build) openForRow(document.getElementById(build.dataset.pcsBuild));
    else if (el.closest("[data-pcs-close]") && dialog()) dialog().close();
  });

  document.addEventListener("htmx:afterSwap", (event) => {
    const { elt, target } = event.detail;
    const ours = (elt && elt.id === "pcs-builder-code") || (target && target.id === "pcs-builder-step");
    if (!ours) return;
    highlightLone();
    if (pendingEnter && fresh()) enter();
  });

  // Another date of service in the encoder: the builder left open follows it (other
  // tables may be in force), keeping its characters.
  document.addEventListener("change", (event) => {
    const box = codeBox();
    const panel = document.getElementById("code-panel");
    const opener = document.getElementById("pcs-builder-open");
    if (event.target.id !== "id_dos" || !box || !panel || !panel.contains(box) || !opener) return;
    fillId = null;
    loading = null;
    htmx.ajax("GET", panelUrl(opener.dataset.url, normalize(box.value), event.target.value), {
      target: "#code-panel",
      swap: "innerHTML",
    }).then(highlightLone);
  });

  // The dialog closed (Esc, the close button, or a code used): back to the row.
  document.addEventListener(
    "close",
    (event) => {
      if (event.target !== dialog()) return;
      pendingEnter = false;
      if (fillId) {
        const target = document.getElementById(fillId);
        fillId = null;
        if (target) target.focus();
      }
    },
    true,
  );
})();
