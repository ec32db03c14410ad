// CodeMirror's own textarea (Datasette's SQL editor, made at DOMContentLoaded) gets the label
// of the textarea it replaces.
window.addEventListener("load", function () {
  var source = document.getElementById("sql-editor");
  document.querySelectorAll(".CodeMirror textarea").forEach(function (area) {
    area.setAttribute("aria-label", (source && source.getAttribute("aria-label")) || "SQL");
  });
});
