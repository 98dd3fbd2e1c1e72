// The cockpit page: reads Telegram's launch data from the URL's hash (no script from
// telegram.org: the school may be offline), sends it with every API request, and draws what
// the server allows this person to see. Nothing here decides who may see what.
"use strict";

(function () {
  var launch = new URLSearchParams(location.hash.slice(1));
  var KEY = "houqin.launch";
  // Kept for this tab only (a reload keeps working), as Telegram's own script does.
  if (launch.get("tgWebAppData")) {
    try { sessionStorage.setItem(KEY, launch.toString()); } catch (e) { /* private mode */ }
  } else if (!launch.get("login")) {
    try { launch = new URLSearchParams(sessionStorage.getItem(KEY) || ""); } catch (e) { /* none */ }
  }
  var initData = launch.get("tgWebAppData") || "";
  // Outside Telegram: a one-time link (#login=…) is swapped for a session that ends on its own.
  var login = launch.get("login") || "";
  var session = "";
  try { session = sessionStorage.getItem(KEY + ".session") || ""; } catch (e) { /* none */ }
  var labels = {};

  // Telegram's theme (light or dark) from tgWebAppThemeParams.
  function applyTheme(raw) {
    var theme = {};
    try { theme = JSON.parse(raw || "{}") || {}; } catch (e) { theme = {}; }
    var root = document.documentElement;
    var bg = theme.bg_color || "";
    var match = /^#([0-9a-f]{6})$/i.exec(bg);
    if (match) {
      var n = parseInt(match[1], 16);
      var luma = 0.299 * (n >> 16) + 0.587 * ((n >> 8) & 255) + 0.114 * (n & 255);
      root.classList.toggle("dark", luma < 128);
    }
    var names = {
      bg_color: "--bg", text_color: "--text", hint_color: "--hint", link_color: "--link",
      button_color: "--button", button_text_color: "--button-text",
      secondary_bg_color: "--card", section_separator_color: "--line"
    };
    Object.keys(names).forEach(function (key) {
      if (/^#[0-9a-f]{3,8}$/i.test(theme[key] || "")) {
        root.style.setProperty(names[key], theme[key]);
      }
    });
  }

  // Tell Telegram the page is ready (what telegram-web-app.js's ready() posts).
  function postEvent(type) {
    var data = JSON.stringify({ eventType: type, eventData: {} });
    try {
      if (window.TelegramWebviewProxy) {
        window.TelegramWebviewProxy.postEvent(type, "{}");
      } else if (window.external && "notify" in window.external) {
        window.external.notify(data);
      } else if (window.parent !== window) {
        window.parent.postMessage(data, "*");
      }
    } catch (e) { /* outside Telegram */ }
  }

  function el(tag, attrs) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") node.textContent = attrs[key];
      else node.setAttribute(key, attrs[key]);
    });
    for (var i = 2; i < arguments.length; i++) {
      if (arguments[i] != null) node.appendChild(arguments[i]);
    }
    return node;
  }

  function stat(id, value, label, tone) {
    return el("div", { "class": "stat" + (tone ? " " + tone : "") },
      el("b", { id: id, text: String(value) }), el("span", { text: label }));
  }

  function names(list) {
    return el("p", { "class": "names", text: list.length ? list.join("、") : labels.none });
  }

  function api(path) {
    var credentials = initData ? "tma " + initData : "session " + session;
    return fetch(path, { headers: { Authorization: credentials }, cache: "no-store" })
      .then(function (response) {
        if (!response.ok) throw new Error(String(response.status));
        return response.json();
      });
  }

  // A picture from the API: fetched with the same header as the JSON (an <img src> cannot
  // carry it), then shown from a blob: URL, released once drawn.
  function picture(path, attrs) {
    var credentials = initData ? "tma " + initData : "session " + session;
    var img = el("img", attrs);
    fetch(path, { headers: { Authorization: credentials } })
      .then(function (response) {
        if (response.status === 204) { img.remove(); return null; }
        if (!response.ok) throw new Error(String(response.status));
        return response.blob();
      })
      .then(function (blob) {
        if (!blob) return;
        var url = URL.createObjectURL(blob);
        img.addEventListener("load", function () { URL.revokeObjectURL(url); }, { once: true });
        img.src = url;
      })
      .catch(function () { img.replaceWith(el("p", { "class": "hint", text: labels.no_picture })); });
    return img;
  }

  function post(path, body) {
    var credentials = initData ? "tma " + initData : "session " + session;
    return fetch(path, {
      method: "POST", cache: "no-store", body: JSON.stringify(body),
      headers: { Authorization: credentials, "Content-Type": "application/json" }
    }).then(function (response) {
      return response.json().then(function (answer) {
        if (response.ok || response.status === 409) return answer;
        throw new Error(String(response.status));
      });
    });
  }

  // The reporter's 验收 (stars) or 返修 (a reason) of a finished job; then the ticket again.
  function acceptance(t) {
    var box = el("section", { id: "acceptance", "class": "card" },
      el("h3", { text: labels.accept }));
    var said = el("p", { "class": "hint" });
    function answered(answer) {
      said.textContent = answer.message || labels.thanks;
      return api("api/ticket/" + t.id).then(function (now) { drawTicket(now, said.textContent); });
    }
    var stars = el("div", { "class": "stars" });
    [1, 2, 3, 4, 5].forEach(function (n) {
      var star = el("button", { "data-stars": String(n), text: "★".repeat(n) });
      star.addEventListener("click", function () {
        post("api/ticket/" + t.id + "/accept", { stars: n }).then(answered).catch(fail);
      });
      stars.appendChild(star);
    });
    var reason = el("textarea", { id: "rework-reason", maxlength: "500", rows: "2" });
    var ask = el("button", { id: "rework", text: labels.ask_rework });
    ask.addEventListener("click", function () {
      if (!reason.value.trim()) { reason.focus(); return; }
      post("api/ticket/" + t.id + "/rework", { reason: reason.value }).then(answered).catch(fail);
    });
    box.append(stars, el("h3", { text: labels.rework_reason }), reason, ask, said);
    return box;
  }

  function ticketCard(t) {
    var tone = t.overdue ? " overdue" : t.urgent ? " urgent" : "";
    var card = el("div", { "class": "card" + tone, "data-ticket": t.number },
      el("span", { "class": "num", text: t.number }));
    if (t.urgent) card.appendChild(el("span", { "class": "tag warn", text: t.urgency }));
    if (t.overdue) card.appendChild(el("span", { "class": "tag bad", text: labels.overdue }));
    if (t.awaiting) card.appendChild(el("span", { "class": "tag warn", text: labels.awaiting }));
    card.appendChild(el("div", { text: t.place + " · " + t.category }));
    var who = [t.building, t.holder, t.status].filter(Boolean).join(" · ");
    if (who) card.appendChild(el("div", { "class": "hint", text: who }));
    card.setAttribute("role", "button");
    card.setAttribute("tabindex", "0");
    card.addEventListener("click", function () { openTicket(t.id); });
    return card;
  }

  // One ticket: its card and timeline, in place; "back" returns to the page as it was.
  var shown = null;
  function openTicket(id) {
    api("api/ticket/" + id).then(drawTicket).catch(fail);
  }

  function drawTicket(t, said) {
    var main = document.getElementById("main");
    var back = el("button", { "class": "back", id: "back", text: "← " + labels.back });
    back.addEventListener("click", function () {
      if (shown && shown.view === "teacher") api("api/view").then(draw).catch(fail);
      else draw(shown);
    });
    var head = el("h2", { id: "ticket-number", text: t.number + " · " + t.status });
    var facts = el("div", { "class": "card" + (t.overdue ? " overdue" : "") },
      el("div", { text: t.place + " · " + t.category + " · " + t.urgency }),
      el("p", { text: t.description }),
      el("div", { "class": "hint", text: labels.reporter + " " + t.reporter + " · " + t.created }),
      el("div", { "class": "hint", text: t.limits }),
      t.photos ? el("div", { "class": "hint", text: labels.photos.replace("{count}", t.photos) }) : null);
    var photos = null;
    if (t.photos) {
      photos = el("div", { "class": "photos", id: "photos" });
      for (var i = 0; i < t.photos; i++) {
        photos.appendChild(picture("api/ticket/" + t.id + "/photo/" + i,
          { alt: labels.photo.replace("{number}", i + 1), "data-photo": String(i) }));
      }
    }
    var steps = el("ol", { "class": "timeline", id: "timeline" });
    t.timeline.forEach(function (e) {
      var line = [e.who, e.what].filter(Boolean).join(" ") + (e.status ? " → " + e.status : "");
      steps.appendChild(el("li", {},
        el("span", { "class": "hint", text: e.at + " " }), el("span", { text: line }),
        e.note ? el("div", { "class": "hint", text: e.note }) : null));
    });
    main.replaceChildren(back, head, facts, photos,
      t.may_accept ? acceptance(t) : null,
      said ? el("p", { id: "acceptance-said", "class": "hint", text: said }) : null,
      el("h3", { text: labels.timeline }), steps);
    document.body.setAttribute("data-ready", "ticket");
    window.scrollTo(0, 0);
  }

  function board(tickets) {
    var section = el("section", { id: "board" },
      el("h2", { text: labels.tickets }),
      el("div", { "class": "stats" },
        stat("tickets-count", tickets.count, labels.open),
        stat("tickets-overdue", tickets.overdue, labels.overdue, tickets.overdue ? "bad" : "")));
    if (!tickets.columns.length) {
      section.appendChild(el("p", { "class": "hint", text: labels.nothing_open }));
      return section;
    }
    var columns = el("div", { "class": "board" });
    tickets.columns.forEach(function (column) {
      var box = el("div", { "class": "column", "data-status": column.status },
        el("h3", { text: column.label + " (" + column.count + ")" }));
      column.tickets.forEach(function (t) { box.appendChild(ticketCard(t)); });
      columns.appendChild(box);
    });
    section.appendChild(columns);
    return section;
  }

  function logs(day) {
    var section = el("section", { id: "logs" },
      el("h2", { text: labels.logs + " · " + day.day }),
      el("div", { "class": "stats" },
        stat("logs-filed", day.filed.length, labels.filed, "good"),
        stat("logs-late", day.late, labels.late, day.late ? "warn" : ""),
        stat("logs-missing", day.missing.length, labels.missing, day.missing.length ? "bad" : ""),
        stat("logs-leave", day.leave.length, labels.leave)));
    if (!day.working) section.appendChild(el("p", { "class": "hint", text: labels.not_working_day }));
    section.appendChild(el("h3", { text: labels.missing }));
    section.appendChild(names(day.missing));
    section.appendChild(el("h3", { text: labels.leave }));
    section.appendChild(names(day.leave));
    return section;
  }

  function inspection(round) {
    var section = el("section", { id: "inspection" }, el("h2", { text: labels.inspection }));
    if (!round) {
      section.appendChild(el("p", { "class": "hint", text: labels.no_round }));
      return section;
    }
    var share = round.total ? Math.round(100 * round.done / round.total) : 0;
    var fill = el("i");
    fill.style.width = share + "%";
    section.appendChild(el("p", {},
      el("span", { text: round.name + " · " }),
      el("b", { id: "round-progress", text: round.done + "/" + round.total }),
      el("span", { "class": "hint", text: " " + labels.marked + " · " + round.deadline })));
    section.appendChild(el("div", { "class": "bar" }, fill));
    var last = round.announced;
    if (last) {
      section.appendChild(el("p", { id: "round-announced" },
        el("span", { "class": "hint", text: labels.announced + ": " }),
        el("span", { text: last.name + " · " + last.at + " · " }),
        el("b", { text: labels.problems.replace("{count}", last.problems) })));
    }
    return section;
  }

  function approvals(waiting) {
    return el("section", { id: "approvals" },
      el("h2", { text: labels.approvals }),
      el("div", { "class": "stats" },
        stat("approvals-join", waiting.join_requests.length, labels.join_requests,
          waiting.join_requests.length ? "warn" : ""),
        stat("approvals-duties", waiting.duties.length, labels.duties,
          waiting.duties.length ? "warn" : ""),
        stat("approvals-services", waiting.services.length, labels.services,
          waiting.services.length ? "warn" : "")),
      names(waiting.join_requests.concat(waiting.duties, waiting.services)));
  }

  function score(mine) {
    var section = el("section", { id: "score" }, el("h2", { text: labels.my_score }));
    if (mine.total == null) {
      section.appendChild(el("p", { "class": "hint", text: labels.not_appraised }));
      return section;
    }
    section.appendChild(el("div", { "class": "stats" },
      stat("score-total", mine.total, mine.grade || mine.period, "good")));
    var list = el("ul");
    mine.components.forEach(function (c) {
      list.appendChild(el("li", { text: c.name + ": " + (c.score == null ? "—" : c.score) +
        " (" + c.weight + "%)" }));
    });
    section.appendChild(list);
    return section;
  }

  function myLogs(mine) {
    var text = labels.month_logs.replace("{on_time}", mine.on_time)
      .replace("{late}", mine.late).replace("{missing}", mine.missing);
    var section = el("section", { id: "my-logs" }, el("h2", { text: labels.my_logs }),
      el("p", { id: "my-logs-month", text: text }));
    if (!mine.recent.length) section.appendChild(el("p", { "class": "hint", text: labels.no_logs }));
    var list = el("ul");
    mine.recent.forEach(function (log) {
      list.appendChild(el("li", { text: log.day + (log.late ? " · " + labels.late : "") }));
    });
    section.appendChild(list);
    return section;
  }

  function reports(found) {
    var section = el("section", { id: "reports" }, el("h2", { text: labels.my_reports }));
    if (!found.length) section.appendChild(el("p", { "class": "hint", text: labels.no_reports }));
    found.forEach(function (t) { section.appendChild(ticketCard(t)); });
    return section;
  }

  function monthPage(view) {
    var main = document.getElementById("main");
    var ranking = el("ol", { "class": "ranking", id: "ranking" });
    view.ranking.forEach(function (row) {
      ranking.appendChild(el("li", { "data-person": row.name },
        el("span", { text: row.name + " " }), el("b", { "class": "total", text: row.total }),
        el("span", { "class": "hint", text: " · " + (row.grade || "") + (row.star ? " 🏅" : "") })));
    });
    var repairs = view.repairs;
    main.appendChild(el("section", { id: "month" },
      el("h2", { text: labels.ranking + " · " + view.period }),
      view.ranking.length ? ranking : el("p", { "class": "hint", text: labels.nobody }),
      el("h2", { text: labels.repairs }),
      el("div", { "class": "stats" },
        stat("repairs-jobs", repairs.jobs, labels.jobs, "good"),
        stat("repairs-on-time", repairs.on_time, labels.on_time),
        stat("repairs-rework", repairs.rework, labels.rework, repairs.rework ? "warn" : ""),
        stat("repairs-rating", repairs.rating == null ? "—" : repairs.rating, labels.rating)),
      picture("api/month/chart", { id: "month-chart", "class": "chart", alt: labels.chart })));
  }

  // The director's two pages, one tab each.
  function tabs(active) {
    var bar = el("nav", { "class": "tabs" });
    [["today", labels.today, "api/view"], ["month", labels.month, "api/month"]].forEach(function (tab) {
      var button = el("button", { id: "tab-" + tab[0], text: tab[1] });
      if (tab[0] === active) button.className = "active";
      button.addEventListener("click", function () { api(tab[2]).then(draw).catch(fail); });
      bar.appendChild(button);
    });
    return bar;
  }

  function draw(view) {
    shown = view;
    var main = document.getElementById("main");
    main.textContent = "";
    if (view.view === "director" || view.view === "month") {
      main.appendChild(tabs(view.view === "month" ? "month" : "today"));
    }
    if (view.view === "month") {
      monthPage(view);
    } else if (view.view === "director") {
      main.appendChild(board(view.tickets));
      main.appendChild(logs(view.logs));
      main.appendChild(inspection(view.inspection));
      main.appendChild(approvals(view.approvals));
    } else if (view.view === "staff") {
      labels.tickets = labels.my_jobs;
      main.appendChild(board(view.tickets));
      main.appendChild(myLogs(view.logs));
      main.appendChild(score(view.score));
    } else {
      main.appendChild(reports(view.reports));
    }
    document.body.setAttribute("data-ready", view.view);
  }

  function fail(error) {
    var status = document.getElementById("status") || el("p", { id: "status" });
    status.className = "error";
    status.textContent = (labels.error || "无法打开 · Could not load") + " (" + error.message + ")";
    document.getElementById("main").replaceChildren(status);
    document.body.setAttribute("data-ready", "error");
  }

  applyTheme(launch.get("tgWebAppThemeParams"));
  // The launch data stays in memory only: off the address bar (and out of any copied link).
  if (location.hash) history.replaceState(null, "", location.pathname + location.search);
  postEvent("web_app_ready");
  postEvent("web_app_expand");
  var start = Promise.resolve();
  if (login) {
    start = fetch("api/login", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ token: login }), cache: "no-store"
    }).then(function (response) {
      if (!response.ok) throw new Error(String(response.status));
      return response.json();
    }).then(function (answer) {
      session = answer.session;
      try { sessionStorage.setItem(KEY + ".session", session); } catch (e) { /* memory only */ }
    });
  }
  start.then(function () { return api("api/me"); }).then(function (me) {
    labels = me.labels;
    document.documentElement.lang = me.language === "en" ? "en" : "zh-CN";
    document.title = labels.title;
    document.getElementById("title").textContent = labels.title;
    document.getElementById("who").textContent = me.name + " · " + labels.today;
    return api("api/view");
  }).then(draw).catch(fail);
})();
