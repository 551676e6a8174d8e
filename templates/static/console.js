// Progressive enhancement for the console (templates/html/console): every
// page works without this file. It shows copy buttons next to values shown
// once, asks before destructive forms (data-confirm) are sent, and opens a
// workspace's users (a[data-dialog]) in a modal <dialog> instead of going to
// their page (docs/console.md, "Workspace users in a dialog").
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("button.copy[data-copy]").forEach(function (btn) {
    var field = document.getElementById(btn.getAttribute("data-copy"));
    if (!field || !navigator.clipboard) { return; }
    btn.hidden = false;
    btn.addEventListener("click", function () {
      navigator.clipboard.writeText(field.value).then(function () {
        btn.textContent = "Copied";
        setTimeout(function () { btn.textContent = "Copy"; }, 2000);
      }, function () {
        field.select();
      });
    });
  });
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { ev.preventDefault(); }
    });
  });
  panelDialog();
});

// panelDialog: a link with data-dialog opens the #workspace-panel of the
// page it points to in <dialog id="panel-dialog">. Inside, forms and links
// to that page are sent with fetch (same origin, the page's own cookies and
// CSRF field) and the panel of the answer replaces the dialog's content, with
// the answer's flash message on top. The server does all the work: this only
// moves the same HTML into the dialog. Closing the dialog after a change
// reloads the list behind it; without a change focus returns to the link.
function panelDialog() {
  var dlg = document.getElementById("panel-dialog");
  if (!dlg || typeof dlg.showModal !== "function" || !window.fetch || !window.DOMParser) { return; }
  var body = dlg.querySelector(".dialog-body");
  var title = document.getElementById("panel-dialog-title");
  var opener = null;
  var base = "";
  var changed = false;

  function focusIn(selectors) {
    for (var i = 0; i < selectors.length; i++) {
      var el = body.querySelector(selectors[i]);
      if (el) {
        if (!el.matches("input, select, button, a[href]")) { el.setAttribute("tabindex", "-1"); }
        el.focus();
        return;
      }
    }
    title.focus();
  }

  // show puts the panel of an HTML answer into the dialog; false when the
  // answer has none.
  function show(html, focus) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    var panel = doc.getElementById("workspace-panel");
    var main = doc.querySelector("main");
    var flash = doc.getElementById("flash");
    if (!panel && !main) { return false; }
    var nodes = [];
    if (flash) {
      flash.id = "panel-flash";
      nodes.push(flash);
    }
    if (panel) {
      base = panel.getAttribute("data-base") || base;
      title.textContent = panel.getAttribute("data-title") || title.textContent;
      nodes.push(panel);
    } else {
      // An error page (an expired form, a refusal): its own words.
      Array.prototype.forEach.call(main.children, function (el) { if (el !== flash) { nodes.push(el); } });
    }
    body.replaceChildren.apply(body, nodes);
    body.removeAttribute("aria-busy");
    focusIn(focus);
    return true;
  }

  function load(url, init, focus, fallback) {
    body.setAttribute("aria-busy", "true");
    init = init || {};
    init.credentials = "same-origin";
    init.headers = { "Accept": "text/html" };
    fetch(url, init).then(function (res) {
      return res.text();
    }).then(function (html) {
      if (!show(html, focus)) { fallback(); }
    }).catch(function () { fallback(); });
  }

  document.querySelectorAll("a[data-dialog]").forEach(function (link) {
    link.setAttribute("aria-haspopup", "dialog");
    link.addEventListener("click", function (ev) {
      if (ev.ctrlKey || ev.metaKey || ev.shiftKey || ev.button !== 0) { return; }
      ev.preventDefault();
      opener = link;
      changed = false;
      title.textContent = link.getAttribute("data-dialog");
      body.replaceChildren();
      dlg.showModal();
      load(link.href, null, ["#member-q"], function () { window.location.assign(link.href); });
    });
  });

  dlg.querySelector(".dialog-close").addEventListener("click", function () { dlg.close(); });
  dlg.addEventListener("close", function () {
    if (changed) {
      window.location.reload();
      return;
    }
    if (opener) { opener.focus(); }
  });

  body.addEventListener("submit", function (ev) {
    var form = ev.target;
    ev.preventDefault();
    if (form.hasAttribute("data-confirm") && !window.confirm(form.getAttribute("data-confirm"))) { return; }
    var params = new URLSearchParams(new FormData(form));
    var fallback = function () { HTMLFormElement.prototype.submit.call(form); };
    if ((form.getAttribute("method") || "get").toLowerCase() === "post") {
      changed = true;
      load(form.action, { method: "POST", body: params }, ["#panel-flash", "#form-error", "#member-q"], fallback);
      return;
    }
    var url = new URL(form.action, window.location.href);
    url.search = params.toString();
    load(url.href, null, ["#candidates caption", "#no-candidates", "#member-q"], fallback);
  });

  body.addEventListener("click", function (ev) {
    var a = ev.target.closest("a[href]");
    if (!a || !base) { return; }
    var url = new URL(a.href, window.location.href);
    if (url.origin !== window.location.origin || url.pathname !== base) { return; }
    ev.preventDefault();
    load(url.href, null, ["#candidates caption", "#workspace-members caption", "#member-q"], function () { window.location.assign(url.href); });
  });
}
