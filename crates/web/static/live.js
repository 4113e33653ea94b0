// Live updates for a page that declares them: <div data-live-url="/coda/eventi"> makes the page
// open that server-sent event stream and reload itself (at most once a second) when the
// stream says something changed. Without scripts the page keeps its plain reload link.
(function () {
  "use strict";
  var holder = document.querySelector("[data-live-url]");
  if (!holder || !window.EventSource) return;
  var status = document.querySelector("[data-live-status]");
  var source = new EventSource(holder.getAttribute("data-live-url"));
  var pending = null;
  var say = function (text) { if (status) status.textContent = text; };
  source.addEventListener("open", function () { say("Aggiornamento automatico attivo."); });
  source.addEventListener("change", function () {
    say("La coda è cambiata: aggiornamento…");
    if (pending) return;
    pending = window.setTimeout(function () { window.location.reload(); }, 1000);
  });
  source.addEventListener("error", function () {
    say("Aggiornamento automatico interrotto: usa «Aggiorna».");
  });
})();
