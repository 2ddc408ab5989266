// The segment form's live member count: on every change of a rule field, ask the preview
// URL for the count of the current rules and show the returned fragment. Without JS the
// form's "Preview" button gives the same count on a full page. No inline script (CSP).
(function () {
  var form = document.querySelector("form[data-segment-form]");
  var box = document.getElementById("segment-preview");
  if (!form || !box) { return; }
  var url = box.dataset.previewUrl;
  var ruleFields = form.querySelector("[data-rule-fields]");
  var staticNote = form.querySelector("[data-static-note]");
  var previewButton = form.querySelector("[data-rule-only]");
  var skip = { csrfmiddlewaretoken: true, name: true, description: true, kind: true, action: true };
  var timer = null;
  var latest = 0;

  function kind() {
    var checked = form.querySelector("input[name=kind]:checked");
    return checked ? checked.value : (form.dataset.kind || "rule");
  }

  function showKind() {
    var isStatic = kind() === "static";
    if (ruleFields) { ruleFields.hidden = isStatic; }
    if (staticNote) { staticNote.hidden = !isStatic; }
    if (previewButton) { previewButton.hidden = isStatic; }
  }

  function query() {
    var params = new URLSearchParams();
    new FormData(form).forEach(function (value, key) {
      if (!skip[key]) { params.append(key, value); }
    });
    return params.toString();
  }

  function refresh() {
    if (kind() !== "rule") { return; }
    var ticket = ++latest;
    fetch(url + "?" + query(), { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        // Only the answer to the newest request is shown; slower older ones are dropped.
        if (html !== null && ticket === latest) { box.innerHTML = html; }
      })
      .catch(function () { /* the Preview button still works */ });
  }

  function schedule(event) {
    if (event.target && event.target.name === "kind") { showKind(); }
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, 300);
  }

  form.addEventListener("input", schedule);
  form.addEventListener("change", schedule);
  showKind();
})();
