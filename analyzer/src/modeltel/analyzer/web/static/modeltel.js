// modeltel page behaviour: refresh the content in place, and the SQL explorer.
// No dependencies; everything the page shows is rendered by the server.
(function () {
  "use strict";

  var body = document.body;
  var every = parseInt(body.getAttribute("data-refresh") || "0", 10);
  var stamp = document.getElementById("refreshed");

  function setStatus(text) {
    if (stamp) { stamp.textContent = text; }
  }

  function openDetails() {
    var open = [];
    document.querySelectorAll("main details[id]").forEach(function (d) {
      if (d.open) { open.push(d.id); }
    });
    return open;
  }

  function refresh() {
    if (document.hidden) { return; }
    var active = document.activeElement;
    var editing = ["TEXTAREA", "INPUT", "SELECT"];
    if (active && editing.indexOf(active.tagName) >= 0) { return; }  // e.g. a range being chosen
    var keep = openDetails();
    fetch(window.location.href, { headers: { "Accept": "text/html" }, cache: "no-store" })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.text();
      })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.querySelector("main");
        var current = document.querySelector("main");
        if (!fresh || !current) { return; }
        var sql = document.getElementById("sql-box");
        current.innerHTML = fresh.innerHTML;
        var slot = document.getElementById("sql-box");
        if (sql && slot) { slot.replaceWith(sql); }
        keep.forEach(function (id) {
          var d = document.getElementById(id);
          if (d) { d.open = true; }
        });
        setStatus("updated " + new Date().toLocaleTimeString() + " · refreshes every " + every + " s");
      })
      .catch(function (err) {
        setStatus("server unreachable (" + err.message + "); retrying in " + every + " s");
      });
  }

  if (every > 0) {
    setStatus("updated " + new Date().toLocaleTimeString() + " · refreshes every " + every + " s");
    window.setInterval(refresh, every * 1000);
  }

  // -- SQL explorer -----------------------------------------------------------------------
  function cell(value) {
    if (value === null || value === undefined) { return "NULL"; }
    if (typeof value === "object") { return JSON.stringify(value); }
    return String(value);
  }

  function showRows(out, answer) {
    var table = document.createElement("table");
    var head = table.createTHead().insertRow();
    answer.columns.forEach(function (name) {
      var th = document.createElement("th");
      th.textContent = name;
      head.appendChild(th);
    });
    var tbody = table.createTBody();
    answer.rows.forEach(function (row) {
      var tr = tbody.insertRow();
      row.forEach(function (value) { tr.insertCell().textContent = cell(value); });
    });
    var note = document.createElement("p");
    note.className = "muted";
    note.textContent = answer.row_count + " rows in " + answer.elapsed_s.toFixed(3) + " s" +
      (answer.truncated ? " (cut at " + answer.max_rows + " rows)" : "");
    out.replaceChildren(note, table);
  }

  function runSql(event) {
    event.preventDefault();
    var form = event.target;
    var out = document.getElementById("sql-output");
    var query = form.querySelector("textarea").value;
    out.textContent = "running…";
    fetch(form.getAttribute("action"), {
      method: "POST",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify({ query: query, max_rows: 500 })
    })
      .then(function (response) {
        return response.json().then(function (answer) { return { ok: response.ok, answer: answer }; });
      })
      .then(function (result) {
        if (result.ok) { showRows(out, result.answer); return; }
        var p = document.createElement("p");
        p.className = "error";
        p.textContent = cell(result.answer.detail);
        out.replaceChildren(p);
      })
      .catch(function (err) {
        var p = document.createElement("p");
        p.className = "error";
        p.textContent = "the server did not answer: " + err.message;
        out.replaceChildren(p);
      });
  }

  // a segment chosen shows the page of that segment
  document.addEventListener("change", function (event) {
    var form = event.target && event.target.form;
    if (form && form.id === "segment-form") { form.submit(); }
  });

  document.addEventListener("submit", function (event) {
    if (event.target && event.target.id === "sql-form") { runSql(event); }
  });
})();
