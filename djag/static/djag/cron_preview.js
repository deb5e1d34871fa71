/* djag: the live preview of the cron line on the periodic task form.
 *
 * Reads the line (input[data-preview-url]) and its zone (the select named by
 * data-timezone-input), asks the admin's cron-preview/ view, debounced, and shows
 * the readable text and the next five fire times, or the error, in the
 * <div id="<input id>_preview"> the widget renders after the input.
 */
(function () {
  "use strict";

  var DELAY_MS = 300;

  function setUp(input) {
    var url = input.getAttribute("data-preview-url");
    var box = document.getElementById(input.id + "_preview");
    if (!url || !box) {
      return;
    }
    var zone = document.getElementById(input.getAttribute("data-timezone-input") || "");
    var text = box.querySelector(".djag-cron-text");
    var list = box.querySelector(".djag-cron-next");
    var error = box.querySelector(".djag-cron-error");
    var timer = null;
    var latest = 0;

    function show(data) {
      text.textContent = data.text || "";
      list.textContent = "";
      (data.next || []).forEach(function (when) {
        var item = document.createElement("li");
        item.textContent = when;
        list.appendChild(item);
      });
      error.textContent = data.error || "";
      error.style.display = data.error ? "" : "none";
      box.setAttribute("data-state", data.error ? "error" : (data.text ? "ok" : "empty"));
    }

    function update() {
      var line = input.value.trim();
      if (!line) {
        show({text: "", next: [], error: null});
        return;
      }
      var query = "?line=" + encodeURIComponent(line) +
        "&timezone=" + encodeURIComponent(zone ? zone.value : "");
      var ticket = ++latest;
      box.setAttribute("data-state", "loading");
      fetch(url + query, {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (response) { return response.json(); })
        .then(function (data) {
          if (ticket === latest) {  // an older answer arriving late is dropped
            show(data);
          }
        })
        .catch(function () {
          if (ticket === latest) {
            show({text: "", next: [], error: "The preview is not available."});
          }
        });
    }

    function later() {
      window.clearTimeout(timer);
      timer = window.setTimeout(update, DELAY_MS);
    }

    input.addEventListener("input", later);
    if (zone) {
      zone.addEventListener("change", later);
    }
    update();
  }

  function start() {
    document.querySelectorAll("input[data-preview-url]").forEach(setUp);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
