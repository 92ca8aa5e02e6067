// saex feature page: add an explanation through POST /api/explanation/new
// (the write API: an API key in the X-Api-Key header, or the login
// cookie), then list it without reloading. No inline handlers: the
// Content-Security-Policy forbids them.
(function () {
  "use strict";
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    if (!(form instanceof HTMLFormElement) || form.id !== "explanation-form") {
      return;
    }
    ev.preventDefault();
    var status = form.querySelector(".form-status");
    var text = form.elements.description.value.trim();
    var key = form.elements.key.value.trim();
    if (text === "") {
      status.textContent = "Type an explanation first.";
      return;
    }
    var headers = { "Content-Type": "application/json" };
    if (key !== "") {
      headers["X-Api-Key"] = key;
    }
    var button = form.querySelector("button");
    button.disabled = true;
    status.textContent = "Adding…";
    fetch("/api/explanation/new", {
      method: "POST",
      credentials: "same-origin",
      headers: headers,
      body: JSON.stringify({
        modelId: form.dataset.model,
        source: form.dataset.source,
        index: form.dataset.index,
        description: text
      })
    }).then(function (resp) {
      return resp.json().catch(function () { return {}; }).then(function (body) {
        if (!resp.ok) {
          var msg = body && body.error ? body.error : "the server answered " + resp.status;
          if (resp.status === 401) {
            msg = "An API key is required: " + msg;
          }
          throw new Error(msg);
        }
        return body;
      });
    }).then(function (e) {
      var li = document.createElement("li");
      li.className = "explanation";
      var desc = document.createElement("span");
      desc.className = "desc";
      desc.textContent = e.description;
      var meta = document.createElement("span");
      meta.className = "meta";
      meta.textContent = e.typeName + " · " + e.explanationModelName + " · added now";
      li.appendChild(desc);
      li.appendChild(meta);
      document.getElementById("explanation-list").appendChild(li);
      var empty = document.querySelector("section.explanations .empty");
      if (empty) {
        empty.remove();
      }
      form.elements.description.value = "";
      status.textContent = "Added.";
    }).catch(function (err) {
      status.textContent = "Not added: " + err.message;
    }).finally(function () {
      button.disabled = false;
    });
  });
})();
