// monban's pages work without this file. It only adds: copy buttons next to fixes,
// dropping a message file on the analyzer's text area, and "expand all" for trees.
(function () {
  "use strict";
  document.querySelectorAll("pre[data-copy]").forEach(function (pre) {
    var b = document.createElement("button");
    b.type = "button";
    b.className = "copy secondary";
    b.textContent = pre.getAttribute("data-copy");
    b.addEventListener("click", function () {
      if (navigator.clipboard) {
        navigator.clipboard.writeText(pre.textContent).then(function () {
          b.textContent = pre.getAttribute("data-copied") || b.textContent;
        });
      }
    });
    pre.insertAdjacentElement("beforebegin", b);
  });
  var area = document.querySelector("textarea.drop");
  if (area) {
    area.addEventListener("dragover", function (e) { e.preventDefault(); area.classList.add("over"); });
    area.addEventListener("dragleave", function () { area.classList.remove("over"); });
    area.addEventListener("drop", function (e) {
      e.preventDefault();
      area.classList.remove("over");
      var f = e.dataTransfer && e.dataTransfer.files && e.dataTransfer.files[0];
      if (f && f.size <= 26214400) { f.text().then(function (t) { area.value = t; }); }
    });
  }
  document.querySelectorAll("button[data-expand]").forEach(function (b) {
    b.hidden = false;
    b.addEventListener("click", function () {
      var open = b.getAttribute("aria-pressed") !== "true";
      document.querySelectorAll(b.getAttribute("data-expand") + " details").forEach(function (d) { d.open = open; });
      b.setAttribute("aria-pressed", open ? "true" : "false");
    });
  });
})();
