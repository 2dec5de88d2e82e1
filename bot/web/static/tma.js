// Viza opened as a Telegram Mini App: Telegram puts its signed launch data
// and its theme in this page's fragment (#tgWebAppData=…). Hand both to
// the server, which checks the signature and starts an ordinary session.
// The only script Viza has; every other page works without one.
(function () {
  "use strict";
  var params = new URLSearchParams(window.location.hash.slice(1));
  var form = document.getElementById("tma");
  var data = params.get("tgWebAppData");
  if (!form || !data) {
    return; // not opened by Telegram: the page says so
  }
  form.elements.init_data.value = data;
  form.elements.theme.value = params.get("tgWebAppThemeParams") || "";
  form.submit();
})();
