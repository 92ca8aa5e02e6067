// saex steer page: posts the form to /api/steer with stream: true and
// shows the DEFAULT and STEERED completions as the server-sent events
// bring them (each event is the whole reply so far). The form's query
// string is the run's shareable URL; data-autorun runs it on load. No
// inline handlers: the Content-Security-Policy forbids them.
(function () {
  "use strict";
  var form = document.getElementById("steer-form");
  if (!form) {
    return;
  }
  var list = document.getElementById("steer-feature-list");
  var tpl = document.getElementById("steer-feature-tpl");
  var addInput = document.getElementById("steer-add-input");
  var addError = document.getElementById("steer-add-error");
  var status = document.getElementById("steer-status");
  var share = document.getElementById("steer-share");
  var outDefault = document.getElementById("steer-default");
  var outSteered = document.getElementById("steer-steered");
  var runButton = document.getElementById("steer-run");
  var running = null;

  function modelPath() {
    return "/" + encodeURIComponent(form.dataset.model);
  }

  // addFeature appends a row for "source:index" at a strength.
  function addFeature(name, strength) {
    var m = /^(.+):(\d+)$/.exec(name.trim());
    if (!m) {
      addError.textContent = "type a feature as source:index, e.g. " + (form.querySelector("#steer-sources option") || { value: "source:" }).value + "12";
      return false;
    }
    addError.textContent = "";
    var row = tpl.content.firstElementChild.cloneNode(true);
    row.querySelector("input[name=feature]").value = m[1] + ":" + m[2];
    var link = row.querySelector("a.steer-feature-link");
    link.textContent = m[1] + " #" + m[2];
    link.href = modelPath() + "/" + encodeURIComponent(m[1]) + "/" + m[2];
    row.querySelector(".steer-slider").value = strength;
    row.querySelector(".steer-strength").value = strength;
    list.appendChild(row);
    return true;
  }

  document.getElementById("steer-add").addEventListener("click", function () {
    if (addFeature(addInput.value, "10")) {
      addInput.value = "";
    }
  });
  addInput.addEventListener("keydown", function (ev) {
    if (ev.key === "Enter") {
      ev.preventDefault();
      if (addFeature(addInput.value, "10")) {
        addInput.value = "";
      }
    }
  });

  // defaultStrength is a feature's starting strength, as the feature
  // pages' "steer with this feature" link has it (page_steer.go).
  function defaultStrength(maxAct) {
    if (!(maxAct > 0)) {
      return "10";
    }
    return String(Number(Math.min(4 * maxAct, 300).toPrecision(2)));
  }

  // The search box looks the model's explanations up and lists the hits of
  // runnable sources, each with a button that adds it.
  var results = document.getElementById("steer-search-results");
  var searchInput = document.getElementById("steer-search-input");
  function search() {
    var q = searchInput.value.trim();
    if (!q) {
      return;
    }
    var runnable = {};
    form.querySelectorAll("#steer-sources option").forEach(function (o) {
      runnable[o.value.slice(0, -1)] = true;
    });
    results.textContent = "";
    fetch("/api/explanation/search-model", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ modelId: form.dataset.model, query: q })
    }).then(function (resp) {
      return resp.json();
    }).then(function (body) {
      var hits = (body.results || []).filter(function (h) { return runnable[h.layer]; });
      if (body.error || hits.length === 0) {
        var li = document.createElement("li");
        li.className = "muted";
        li.textContent = body.error || "No explanation of a runnable source matches.";
        results.appendChild(li);
        return;
      }
      hits.slice(0, 10).forEach(function (h) {
        var li = document.createElement("li");
        var b = document.createElement("button");
        b.type = "button";
        b.className = "steer-search-add";
        b.textContent = "add";
        b.dataset.feature = h.layer + ":" + h.index;
        b.dataset.strength = defaultStrength(h.neuron && h.neuron.maxActApprox);
        li.appendChild(b);
        li.appendChild(document.createTextNode(" " + h.layer + " #" + h.index + " " + h.description));
        results.appendChild(li);
      });
    }).catch(function (e) {
      results.textContent = "search failed: " + e.message;
    });
  }
  document.getElementById("steer-search").addEventListener("click", search);
  searchInput.addEventListener("keydown", function (ev) {
    if (ev.key === "Enter") {
      ev.preventDefault();
      search();
    }
  });
  results.addEventListener("click", function (ev) {
    var b = ev.target.closest(".steer-search-add");
    if (b) {
      addFeature(b.dataset.feature, b.dataset.strength);
      b.disabled = true;
    }
  });

  // Slider and box of a row move together; remove drops the row.
  list.addEventListener("input", function (ev) {
    var row = ev.target.closest(".steer-feature");
    if (!row) {
      return;
    }
    if (ev.target.classList.contains("steer-slider")) {
      row.querySelector(".steer-strength").value = ev.target.value;
    } else if (ev.target.classList.contains("steer-strength")) {
      row.querySelector(".steer-slider").value = ev.target.value;
    }
  });
  list.addEventListener("click", function (ev) {
    var b = ev.target.closest(".steer-remove");
    if (b) {
      b.closest(".steer-feature").remove();
    }
  });

  function num(name) {
    var v = form.elements[name].value.trim();
    return v === "" ? undefined : Number(v);
  }

  // request builds /api/steer's body from the form.
  function request() {
    var body = {
      prompt: form.elements.prompt.value,
      modelId: form.dataset.model,
      features: [],
      n_tokens: num("n_tokens"),
      temperature: num("temperature"),
      seed: num("seed"),
      freq_penalty: num("freq_penalty"),
      strength_multiplier: num("strength_multiplier"),
      steer_method: form.elements.steer_method.value,
      stream: true
    };
    list.querySelectorAll(".steer-feature").forEach(function (row) {
      var name = row.querySelector("input[name=feature]").value;
      var i = name.lastIndexOf(":");
      body.features.push({
        modelId: form.dataset.model,
        layer: name.slice(0, i),
        index: Number(name.slice(i + 1)),
        strength: Number(row.querySelector(".steer-strength").value)
      });
    });
    return body;
  }

  // set shows a completion so far; data-updates counts the changes (each
  // event adds a token to one of them), which says the text streamed in.
  function set(el, text) {
    if (typeof text === "string" && text !== el.textContent) {
      el.textContent = text;
      el.dataset.updates = String(Number(el.dataset.updates || 0) + 1);
    }
  }

  function show(reply) {
    set(outDefault, reply.DEFAULT);
    set(outSteered, reply.STEERED);
  }

  function fail(msg) {
    status.textContent = msg;
    status.classList.add("error-msg");
  }

  // run posts the form and reads the event stream as it arrives.
  function run() {
    if (running) {
      running.abort();
    }
    var body = request();
    if (body.features.length === 0) {
      fail("Add a feature to steer with.");
      return;
    }
    var shareURL = form.getAttribute("action") + "?" + new URLSearchParams(new FormData(form)).toString();
    history.replaceState(null, "", shareURL);
    share.href = shareURL;
    share.hidden = false;
    [outDefault, outSteered].forEach(function (el) {
      el.textContent = "";
      el.dataset.updates = "0";
    });
    status.classList.remove("error-msg");
    status.textContent = "generating…";
    form.classList.add("running");
    runButton.disabled = true;
    var ctl = new AbortController();
    running = ctl;
    var done = false;
    var finish = function () {
      if (running === ctl) {
        running = null;
        runButton.disabled = false;
        form.classList.remove("running");
      }
    };
    fetch("/api/steer", {
      method: "POST",
      headers: { "Content-Type": "application/json", "Accept": "text/event-stream" },
      body: JSON.stringify(body),
      signal: ctl.signal
    }).then(function (resp) {
      if (!resp.ok || !(resp.headers.get("Content-Type") || "").startsWith("text/event-stream")) {
        return resp.text().then(function (t) {
          var msg = "steering failed (" + resp.status + ")";
          try {
            msg = JSON.parse(t).error || msg;
          } catch (e) { /* not JSON: keep the status */ }
          fail(msg);
        });
      }
      var reader = resp.body.getReader();
      var dec = new TextDecoder();
      var buf = "";
      var pump = function () {
        return reader.read().then(function (r) {
          if (r.value) {
            buf += dec.decode(r.value, { stream: true });
          }
          var cut;
          while ((cut = buf.indexOf("\n\n")) >= 0) {
            var ev = buf.slice(0, cut);
            buf = buf.slice(cut + 2);
            var data = ev.split("\n").filter(function (l) { return l.startsWith("data:"); })
              .map(function (l) { return l.slice(5).trim(); }).join("\n");
            if (!data) {
              continue;
            }
            var reply = JSON.parse(data);
            if (reply.error) {
              fail(reply.error);
              done = true;
              continue;
            }
            show(reply);
          }
          if (r.done) {
            if (!done) {
              status.textContent = "done";
              form.classList.add("done");
            }
            return;
          }
          return pump();
        });
      };
      return pump();
    }).catch(function (e) {
      if (e.name !== "AbortError") {
        fail("steering failed: " + e.message);
      }
    }).then(finish);
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    form.classList.remove("done");
    run();
  });
  if (form.dataset.autorun === "1") {
    run();
  }
})();
