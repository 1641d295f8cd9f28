// Keyboard navigation of the work lists: j / k move between rows, Enter opens the row's link.
// Plain script, no library; the pages work without it (every row is a link). The shortcuts
// can be turned off (WCAG 2.1.4) with the page's checkbox; the choice is kept in this browser.
(function () {
  "use strict";
  var list = document.querySelector("[data-keyboard-list]");
  if (!list) { return; }
  var links = Array.prototype.slice.call(list.querySelectorAll("[data-row-link]"));
  var index = -1;
  var toggle = document.querySelector("[data-shortcuts]");
  if (toggle) {
    toggle.checked = window.localStorage.getItem("sentinel-shortcuts") !== "off";
    toggle.addEventListener("change", function () {
      window.localStorage.setItem("sentinel-shortcuts", toggle.checked ? "on" : "off");
    });
  }
  function select(next) {
    if (!links.length) { return; }
    if (index >= 0) { links[index].closest("tr").classList.remove("selected"); }
    index = Math.max(0, Math.min(links.length - 1, next));
    links[index].closest("tr").classList.add("selected");
    links[index].focus();
  }
  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (target && /^(INPUT|SELECT|TEXTAREA)$/.test(target.tagName)) { return; }
    if (event.altKey || event.ctrlKey || event.metaKey) { return; }
    if (toggle && !toggle.checked) { return; }
    if (event.key === "j") { select(index + 1); event.preventDefault(); }
    if (event.key === "k") { select(index - 1); event.preventDefault(); }
  });
}());
