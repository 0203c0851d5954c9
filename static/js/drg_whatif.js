// The what-if <details> under the DRG panel: its open state rides with the coding
// form (hidden input "whatif-open"), so the panel a recheck brings back keeps it.
// `toggle` does not bubble: listened for in the capture phase.
document.addEventListener(
  "toggle",
  (event) => {
    const details = event.target;
    if (!(details instanceof HTMLDetailsElement) || details.id !== "drg-whatif") return;
    const input = details.querySelector("input[data-whatif-open]");
    if (input) input.value = details.open ? "1" : "";
  },
  true,
);
