// Keyboard use of the coding form.
// In a code box: type, ↓/↑ move through the suggestions, Enter takes the highlighted
// one (or just checks what was typed), Esc closes the list. Alt+↑/↓ moves the row,
// Alt+Delete removes it, Alt+D / Alt+P add a diagnosis / procedure, Alt+S saves.
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
    if (event.altKey) {
      const key = event.key.toLowerCase();
      const actions = { d: "[data-testid=add-dx]", p: "[data-testid=add-px]", s: "[data-testid=save]" };
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

  document.addEventListener("htmx:afterSwap", (event) => {
    const box = event.detail.target;
    if (box && box.classList && box.classList.contains("suggest")) {
      const input = document.querySelector(`[aria-controls="${box.id}"]`);
      if (input) {
        input.setAttribute("aria-expanded", box.querySelector("[role=option]") ? "true" : "false");
        input.removeAttribute("aria-activedescendant");
      }
    }
  });
})();
