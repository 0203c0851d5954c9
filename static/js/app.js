// Site-wide behaviour. No inline scripts anywhere: the Content-Security-Policy allows only 'self'.
document.addEventListener("htmx:configRequest", (event) => {
  const token = document.querySelector("meta[name=csrf-token]");
  if (token) event.detail.headers["X-CSRFToken"] = token.content;
});

// A code taken from the suggestions for words (the encoder, a code box of the coding
// form): told to the server, which counts it for the code search's learned prior.
// Fire and forget: the coder's work never waits on it.
window.acceptSuggestion = (url, query, system, code) => {
  const token = document.querySelector("meta[name=csrf-token]");
  if (!url || !query || !system || !code || !token) return;
  fetch(url, {
    method: "POST",
    headers: { "X-CSRFToken": token.content },
    body: new URLSearchParams({ q: query, system, code }),
    credentials: "same-origin",
  }).catch(() => {});
};
