// Keyboard use of the encoder: type in the box, ↓/↑ move through the results (the
// codes, then the modifiers and the index entries that name a code), Enter opens the highlighted code
// in the panel, Esc goes back to the box.
(() => {
  const box = () => document.getElementById("id_q");
  const codeOptions = () => Array.from(document.querySelectorAll("#results-list [role=option]"));
  const options = () => Array.from(document.querySelectorAll("#results-list [role=option], #results tr.nav-row"));
  let active = -1;

  // An option opens its code; a table row, the code its link names.
  function open(item) {
    const link = item.querySelector("a[hx-get]");
    (link || item).click();
  }

  function highlight(index) {
    const items = options();
    if (!items.length) return;
    active = Math.max(0, Math.min(index, items.length - 1));
    items.forEach((item, i) => {
      // A modifier or index row is a table row, not an option: marked, not "selected".
      const attribute = item.getAttribute("role") === "option" ? "aria-selected" : "data-active";
      item.setAttribute(attribute, i === active ? "true" : "false");
    });
    const item = items[active];
    item.scrollIntoView({ block: "nearest" });
    box().setAttribute("aria-activedescendant", item.id);
  }

  // A code opened from the results of words counts as taken (the learned prior).
  document.addEventListener("click", (event) => {
    const item = event.target.closest && event.target.closest("#results-list [role=option]");
    if (!item || !window.acceptSuggestion) return;
    const list = item.closest("#results-list");
    const results = item.closest("#results");
    if (list.dataset.byCode) return;
    window.acceptSuggestion(list.dataset.acceptUrl, results && results.dataset.query, item.dataset.system, item.dataset.code);
  });

  document.addEventListener("keydown", (event) => {
    const input = box();
    if (!input) return;
    const inList = event.target.closest && event.target.closest("#results-list");
    if (event.target !== input && !inList) return;
    if (event.key === "ArrowDown") {
      event.preventDefault();
      highlight(active + 1);
    } else if (event.key === "ArrowUp") {
      event.preventDefault();
      highlight(active - 1);
    } else if (event.key === "Enter") {
      const items = options();
      if (active >= 0 && items[active]) {
        event.preventDefault();
        open(items[active]);
      } else if (codeOptions().length === 1) {
        event.preventDefault();
        open(codeOptions()[0]);
      }
    } else if (event.key === "Escape") {
      input.focus();
      input.select();
    }
  });

  // New results replace the list while the coder may already have pressed ↓ on the
  // previous one (a reply to a shorter query, say): the highlighted code stays
  // highlighted when the new list has it, otherwise nothing is until ↓ is pressed.
  let kept = null;
  document.addEventListener("htmx:beforeSwap", (event) => {
    if (event.detail.target && event.detail.target.id === "results") {
      const items = options();
      kept = active >= 0 && items[active] ? items[active].dataset.url : null;
    }
  });

  document.addEventListener("htmx:afterSwap", (event) => {
    if (event.target.id === "results" || event.detail.target.id === "results") {
      active = -1;
      const input = box();
      if (input) input.removeAttribute("aria-activedescendant");
      const again = options().findIndex((item) => item.dataset.url === kept);
      kept = null;
      if (again >= 0) highlight(again);
    }
  });
})();
