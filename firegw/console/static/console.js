// The guard console's page: plain JavaScript, no build step, nothing from the internet.
// It draws what the console's event stream (/api/stream) says and acts through /api.
"use strict";

const $ = (selector, root = document) => root.querySelector(selector);
const $$ = (selector, root = document) => Array.from(root.querySelectorAll(selector));
const params = new URLSearchParams(location.search);
const VIEW = params.get("view") === "wall" ? "wall" : "board";
const PRIORITY = { critical: 0, high: 1, medium: 2, low: 3 };
const CLASS_ORDER = { fire: 0, supervisory: 1, security: 2, trouble: 3, maintenance: 4 };
const DARK = new Set(["camera_offline", "camera_not_recording", "camera_video_loss", "comms_lost"]);
const WAITING = new Set(["unacknowledged", "returned_unacknowledged"]);

const S = {
  lang: "zh-CN",
  words: {},
  session: null,
  alarms: new Map(),   // key -> alarm view
  statuses: new Map(), // site -> status view
  links: new Map(),    // broker -> link
  layout: [],
  stream: null,
  streamUp: false,
  retry: 1000,
  dirty: new Set(),
  drawAll: false,
  scheduled: false,
  rows: new Map(),     // key -> tr
  selected: null,      // key of the alarm in the detail pane
  sound: { on: false, context: null, timer: null },
  tab: "alarms",
  placesDrawn: 0,
  placesTimer: null,
};

// --- words ------------------------------------------------------------------------------

function t(key, ...args) {
  let text = (S.words.ui && S.words.ui[key]) || key;
  args.forEach((arg, i) => { text = text.replace(`{${i}}`, String(arg)); });
  return text;
}

function word(section, key) {
  return (S.words[section] && S.words[section][key]) || key;
}

function pickLanguage(asked) {
  const tag = String(asked || "").toLowerCase();
  if (tag.startsWith("zh")) return "zh-CN";
  if (tag.startsWith("en")) return "en";
  return null;
}

async function loadWords(lang) {
  const response = await fetch(`/api/catalog/${lang}`, { credentials: "same-origin" });
  S.words = await response.json();
  S.lang = lang;
  document.documentElement.lang = lang;
  $("#lang").value = lang;
  $$("[data-t]").forEach((el) => { el.textContent = t(el.dataset.t); });
  $$("[data-tp]").forEach((el) => { el.placeholder = t(el.dataset.tp); });
  document.title = t("title");
  drawSoundButton();
}

// --- the API ----------------------------------------------------------------------------

async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") {
    headers["Content-Type"] = "application/json";
    if (S.session) headers["X-CSRF-Token"] = S.session.csrf;
  }
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      credentials: "same-origin",
      body: method === "GET" ? undefined : JSON.stringify(body || {}),
    });
  } catch (error) {
    // The console is away (a restart): say so instead of failing the click.
    return { status: 0, data: { error: t("console_reconnecting_long") } };
  }
  let data = {};
  try { data = await response.json(); } catch (error) { data = {}; }
  return { status: response.status, data };
}

// --- login ------------------------------------------------------------------------------

function showLogin(message) {
  S.session = null;
  closeStream();
  $("#board").hidden = true;
  $("#detail").hidden = true;
  $("#alert").hidden = true;
  $("#logout").hidden = true;
  $("#who").textContent = "";
  $("#login").hidden = false;
  $("#login-error").textContent = message || "";
  $("#operator").focus();
}

async function login(event) {
  event.preventDefault();
  const body = { operator: $("#operator").value.trim(), password: $("#password").value, lang: S.lang };
  const { status, data } = await api("POST", "/api/login", body);
  $("#password").value = "";
  if (status !== 200) {
    $("#login-error").textContent = status === 429 ? t("login_wait", data.retry_after || 60) : t("login_wrong");
    return;
  }
  await started(data);
}

async function started(session) {
  S.session = session;
  if (session.lang !== S.lang) await loadWords(session.lang);
  $("#login").hidden = true;
  $("#board").hidden = false;
  $("#logout").hidden = false;
  const roles = Object.values(session.sites).map((s) => word("role", s.role));
  $("#who").textContent = `${session.name} (${[...new Set(roles)].join(", ")})`;
  openStream();
}

async function logout() {
  await api("POST", "/api/logout");
  showLogin();
}

async function changeLanguage() {
  const lang = $("#lang").value;
  localStorage.setItem("firegw.lang", lang);
  if (S.session) {
    const { status, data } = await api("POST", "/api/session/language", { lang });
    if (status === 200) S.session = data;
  }
  await loadWords(lang);
  if (S.session) openStream(); // a new snapshot, in the new language
}

// --- the stream -------------------------------------------------------------------------

function openStream() {
  closeStream();
  const stream = new EventSource("/api/stream");
  S.stream = stream;
  stream.addEventListener("open", () => {
    S.streamUp = true;
    S.retry = 1000;
    drawLinks();
  });
  stream.addEventListener("error", () => {
    if (S.stream !== stream) return;
    S.streamUp = false;
    drawLinks();
    if (stream.readyState === EventSource.CLOSED) {
      // The browser gave up (the console said no, or was away): ask again ourselves.
      setTimeout(checkSession, S.retry);
      S.retry = Math.min(S.retry * 2, 10000);
    }
  });
  stream.addEventListener("snapshot", (e) => {
    const data = JSON.parse(e.data);
    S.alarms = new Map(data.alarms.map((a) => [a.key, a]));
    S.statuses = new Map(data.statuses.map((s) => [s.site, s]));
    S.links = new Map(data.links.map((l) => [l.broker, l]));
    S.layout = data.layout;
    S.drawAll = true;
    schedule();
  });
  stream.addEventListener("alarm", (e) => {
    const alarm = JSON.parse(e.data);
    S.alarms.set(alarm.key, alarm);
    S.dirty.add(alarm.key);
    schedule();
  });
  stream.addEventListener("gone", (e) => {
    const { key } = JSON.parse(e.data);
    S.alarms.delete(key);
    S.dirty.add(key);
    schedule();
  });
  stream.addEventListener("status", (e) => {
    const status = JSON.parse(e.data);
    S.statuses.set(status.site, status);
    schedule();
  });
  stream.addEventListener("link", (e) => {
    const link = JSON.parse(e.data);
    S.links.set(link.broker, link);
    drawLinks();
  });
  stream.addEventListener("event", (e) => {
    const event = JSON.parse(e.data);
    if (S.selected === event.key) prependEvent($("#detail-history"), event, true);
  });
  stream.addEventListener("logout", () => showLogin(t("session_over")));
}

function closeStream() {
  if (S.stream) S.stream.close();
  S.stream = null;
  S.streamUp = false;
}

async function checkSession() {
  if (!S.session) return;
  const { status, data } = await api("GET", "/api/session"); // 0: the console is away
  if (status === 401) {
    showLogin(t("session_over"));
  } else if (status === 200) {
    S.session = data;
    openStream();
  } else {
    setTimeout(checkSession, S.retry);
    S.retry = Math.min(S.retry * 2, 10000);
  }
}

// --- drawing ----------------------------------------------------------------------------

function schedule() {
  if (S.scheduled) return;
  S.scheduled = true;
  if (document.hidden) setTimeout(draw, 100);
  else requestAnimationFrame(draw);
}

function urgency(a, b) {
  return (PRIORITY[a.priority] ?? 9) - (PRIORITY[b.priority] ?? 9)
    || (b.needs_person ? 1 : 0) - (a.needs_person ? 1 : 0)
    || (a.class === "fire" ? 0 : 1) - (b.class === "fire" ? 0 : 1)
    || (a.raised_at || 0) - (b.raised_at || 0)
    || (a.key < b.key ? -1 : 1);
}

function draw() {
  S.scheduled = false;
  const changed = S.drawAll ? null : Array.from(S.dirty);
  const tbody = $("#alarms");
  if (S.drawAll) {
    tbody.textContent = "";
    S.rows.clear();
    for (const alarm of S.alarms.values()) S.rows.set(alarm.key, row(alarm));
  } else {
    for (const key of S.dirty) {
      const alarm = S.alarms.get(key);
      const old = S.rows.get(key);
      if (!alarm) {
        if (old) old.remove();
        S.rows.delete(key);
      } else {
        const fresh = row(alarm);
        if (old) old.replaceWith(fresh);
        S.rows.set(key, fresh);
      }
    }
  }
  S.drawAll = false;
  S.dirty.clear();
  order(tbody);
  const count = S.alarms.size;
  const waiting = Array.from(S.alarms.values()).filter((a) => a.needs_person).length;
  $("#count").textContent = count ? t("count", count, waiting) : "";
  $("#no-alarms").hidden = count > 0;
  drawGroupAck();
  if (changed === null || Date.now() - S.placesDrawn > 500) drawPlaces();
  else if (!S.placesTimer) S.placesTimer = setTimeout(() => { S.placesTimer = null; drawPlaces(); }, 500);
  drawAlert();
  drawLinks();
  if (S.selected) drawDetail();
  if (window.firegwProbe) window.firegwProbe(changed);
}

function order(tbody) {
  const sorted = Array.from(S.alarms.values()).sort(urgency);
  let current = tbody.firstElementChild;
  for (const alarm of sorted) {
    const tr = S.rows.get(alarm.key);
    if (tr === current) {
      current = current.nextElementSibling;
    } else {
      tbody.insertBefore(tr, current);
    }
  }
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

function row(alarm) {
  const tr = el("tr", `alarm c-${alarm.class} p-${alarm.priority}`);
  tr.dataset.key = alarm.key;
  tr.dataset.alarm = alarm.id;
  if (alarm.needs_person) tr.classList.add("needs");
  if (alarm.state === "unacknowledged") tr.classList.add("unack");
  const priority = el("td", "priority");
  priority.append(el("span", `badge c-${alarm.class}`, alarm.labels.class), el("span", "sub", alarm.labels.priority));
  const where = el("td", "where");
  where.append(el("span", "zone-name", alarm.zone_name || alarm.site_name), el("span", "sub", [alarm.building_name, alarm.device].filter(Boolean).join(" · ")));
  const what = el("td", "what", alarm.text);
  const when = el("td", "when");
  when.dataset.at = alarm.raised_at;
  when.textContent = ago(alarm.raised_at);
  const escalation = el("td", "escalation");
  if (alarm.escalation_level) {
    const badge = el("span", `level l${alarm.escalation_level}`, t("level", alarm.escalation_level));
    badge.title = alarm.labels.escalation;
    escalation.append(badge, el("span", "sub", alarm.labels.escalation));
  }
  const state = el("td", "state");
  state.append(el("span", "", alarm.labels.state));
  if (alarm.labels.to_do) state.append(el("span", "sub todo", alarm.labels.to_do));
  if (alarm.shelved) state.append(el("span", "flag", word("flag", "shelved")));
  if (alarm.out_of_service) state.append(el("span", "flag", word("flag", "out_of_service")));
  if (alarm.held_by) {
    // a consequence of another alarm (a camera offline, a panel link lost): shown, but that
    // alarm is the one to act on
    tr.classList.add("held");
    const cause = S.alarms.get(`${alarm.site}/${alarm.held_by}`);
    state.append(el("span", "flag held", t("held_by", cause ? cause.text : alarm.held_by)));
  }
  const by = el("td", "by");
  if (alarm.acknowledged_by) by.append(el("span", "", alarm.acknowledged_by));
  if (alarm.on_site_by) by.append(el("span", "sub", t("on_site_by", alarm.on_site_by)));
  const actions = el("td", "actions control");
  for (const action of offered(alarm).filter((a) => a === "acknowledge" || a === "on_site")) {
    actions.append(actionButton(alarm, action));
  }
  tr.append(priority, where, what, when, escalation, state, by, actions);
  tr.addEventListener("click", (e) => {
    if (e.target.closest("button")) return;
    select(alarm.key);
  });
  return tr;
}

function ago(ns) {
  if (!ns) return "";
  const seconds = Math.max(0, Math.round(Date.now() - ns / 1e6) / 1000);
  if (seconds < 60) return t("ago_s", Math.floor(seconds));
  if (seconds < 3600) return t("ago_m", Math.floor(seconds / 60));
  if (seconds < 86400) return t("ago_h", Math.floor(seconds / 3600), Math.floor((seconds % 3600) / 60));
  return t("ago_d", Math.floor(seconds / 86400));
}

function clock(ns) {
  if (!ns) return "";
  return new Date(ns / 1e6).toLocaleString(S.lang, { hour12: false });
}

// --- what a person may do ---------------------------------------------------------------

function offered(alarm) {
  const site = S.session && S.session.sites[alarm.site];
  if (!site || VIEW === "wall") return [];
  if (alarm.class === "fire" && !site.fire) return [];
  const may = new Set(site.actions);
  const possible = [];
  if (WAITING.has(alarm.state)) possible.push("acknowledge");
  if (!alarm.on_site_by && alarm.state !== "normal" && alarm.kind !== "gateway") possible.push("on_site");
  if (alarm.latched && !alarm.active && alarm.state !== "normal") possible.push("reset");
  if (!alarm.shelved && alarm.class !== "fire" && alarm.rule !== "out_of_service") possible.push("shelve");
  if (alarm.shelved) possible.push("unshelve");
  if (!alarm.out_of_service && alarm.rule !== "out_of_service" && alarm.device && alarm.kind !== "gateway") {
    possible.push("out_of_service");
  }
  if (alarm.out_of_service || alarm.rule === "out_of_service") possible.push("in_service");
  return possible.filter((action) => may.has(action));
}

const DURATIONS = { shelve: ["15m", "30m", "60m"], out_of_service: ["1h", "2h", "4h", "8h"] };

function actionButton(alarm, action) {
  const button = el("button", `act act-${action}`, word("action", action));
  button.type = "button";
  button.dataset.action = action;
  button.addEventListener("click", (e) => {
    e.stopPropagation();
    act(alarm, action, button);
  });
  return button;
}

async function act(alarm, action, button) {
  const body = { site: alarm.site, alarm: target(alarm, action), action };
  if (DURATIONS[action]) {
    const chosen = $(`#duration-${action}`);
    body.duration = chosen ? chosen.value : DURATIONS[action][0];
  }
  if (button) button.disabled = true;
  say(t("sending", word("action", action)), "");
  const { status, data } = await api("POST", "/api/commands", body);
  if (button) button.disabled = false;
  if (status === 200) {
    say(t("done", word("action", action)), "ok");
  } else if (status === 401) {
    showLogin(t("session_over"));
  } else {
    say(t("refused", data.reason || data.error || status), "error");
  }
}

function target(alarm, action) {
  // Out of service takes the whole device; in service puts back what the alarm names.
  if (action === "out_of_service") return alarm.device || alarm.id;
  if (action === "in_service" && alarm.rule === "out_of_service") return alarm.id.slice(alarm.id.indexOf(":") + 1);
  if (action === "in_service" && alarm.out_of_service && alarm.device) return alarm.device;
  return alarm.id;
}

function say(text, kind) {
  const reply = $("#detail-reply");
  reply.textContent = text;
  reply.className = `reply ${kind}`;
  const toast = $("#connection");
  if (kind === "error" && $("#detail").hidden) {
    toast.textContent = text;
    toast.hidden = false;
    toast.className = "connection error";
    setTimeout(drawLinks, 6000);
  }
}

// --- groups -----------------------------------------------------------------------------

function ackable(alarm) {
  return offered(alarm).includes("acknowledge");
}

function drawGroupAck() {
  const button = $("#ack-all");
  const waiting = Array.from(S.alarms.values()).filter(ackable);
  button.hidden = waiting.length < 2 || VIEW === "wall";
  button.textContent = t("ack_all", waiting.length);
  button.onclick = () => groupAck(waiting.map((a) => ({ site: a.site, alarm: a.id })), button);
}

async function groupAck(alarms, button) {
  if (!alarms.length) return;
  if (button) button.disabled = true;
  const { status, data } = await api("POST", "/api/commands/group", { action: "acknowledge", alarms });
  if (button) button.disabled = false;
  if (status === 200) say(t("group_done", data.done, data.refused), data.refused ? "error" : "ok");
  else say(t("refused", data.error || status), "error");
}

// --- buildings and zones ----------------------------------------------------------------

const SEVERITY = { fire: 5, supervisory: 4, security: 4, trouble: 3, maintenance: 2 };

function drawPlaces() {
  S.placesDrawn = Date.now();
  const root = $("#places");
  root.textContent = "";
  const byZone = new Map();
  for (const alarm of S.alarms.values()) {
    const key = `${alarm.site}/${alarm.zone}`;
    if (!byZone.has(key)) byZone.set(key, []);
    byZone.get(key).push(alarm);
  }
  for (const site of S.layout) {
    const status = S.statuses.get(site.id) || { state: "unknown" };
    const lost = new Set(status.lost || []);
    for (const building of site.buildings) {
      const tile = el("section", "building");
      tile.dataset.building = building.id;
      const head = el("header", "");
      head.append(el("h3", "", building.name));
      const gateway = el("span", `gateway g-${gatewayState(status)}`, t(`gateway_${gatewayState(status)}`));
      gateway.dataset.site = site.id;
      head.append(gateway);
      tile.append(head);
      let worst = 0;
      const zones = el("div", "zones");
      for (const zone of building.zones) {
        const alarms = (byZone.get(`${site.id}/${zone.id}`) || []).filter((a) => a.active || a.needs_person);
        const level = Math.max(0, ...alarms.map((a) => SEVERITY[a.class] || 1));
        worst = Math.max(worst, level);
        const devices = Object.entries(zone.devices);
        const lostHere = devices.filter(([id]) => lost.has(id)).length;
        const dark = new Set();
        for (const [id, kind] of devices) {
          if (kind === "camera" && lost.has(id)) dark.add(id);
        }
        for (const a of alarms) {
          if (a.kind === "camera" && DARK.has(a.rule) && a.active) dark.add(a.device);
        }
        const box = el("div", `zone s-${level}`);
        box.dataset.zone = zone.id;
        box.append(el("strong", "", zone.name));
        const facts = [];
        if (alarms.length) facts.push(t("zone_alarms", alarms.length));
        if (lostHere) facts.push(t("devices_lost", lostHere));
        if (dark.size) facts.push(t("cameras_dark", dark.size));
        box.append(el("span", "sub", facts.join(" · ") || t("zone_ok")));
        const waiting = alarms.filter(ackable);
        if (waiting.length > 1) {
          const button = el("button", "act control", t("ack_zone", waiting.length));
          button.type = "button";
          button.addEventListener("click", () => groupAck(waiting.map((a) => ({ site: a.site, alarm: a.id })), button));
          box.append(button);
        }
        zones.append(box);
      }
      tile.classList.add(`s-${worst}`);
      tile.append(zones);
      root.append(tile);
    }
  }
}

function gatewayState(status) {
  if (status.state === "online") {
    const seen = status.seen_at ? Date.now() - status.seen_at / 1e6 : 0;
    return seen > 60000 ? "stale" : "online";
  }
  return status.state === "offline" ? "offline" : "unknown";
}

// --- the alarm banner and its sound -----------------------------------------------------

function alerting() {
  return Array.from(S.alarms.values())
    .filter((a) => a.state === "unacknowledged" && (a.class === "fire" || a.priority === "critical"))
    .sort(urgency);
}

function drawAlert() {
  const alarms = alerting();
  const banner = $("#alert");
  banner.hidden = alarms.length === 0;
  document.body.classList.toggle("alerting", alarms.length > 0);
  if (alarms.length) {
    const top = alarms[0];
    $("#alert-title").textContent = t(top.class === "fire" ? "alert_fire" : "alert_critical", alarms.length);
    $("#alert-detail").textContent = top.text;
    const button = $("#alert-ack");
    button.hidden = !ackable(top);
    button.onclick = () => act(top, "acknowledge", button);
  }
  sound(alarms.length > 0);
}

function drawSoundButton() {
  const button = $("#sound");
  button.textContent = S.sound.on ? t("sound_on") : t("sound_enable");
  button.className = S.sound.on ? "sound-on" : "sound-off";
}

function toggleSound() {
  if (!S.sound.context) {
    const Context = window.AudioContext || window.webkitAudioContext;
    if (Context) S.sound.context = new Context();
  }
  S.sound.on = !S.sound.on;
  if (S.sound.on && S.sound.context) S.sound.context.resume();
  drawSoundButton();
  sound(alerting().length > 0);
}

function sound(wanted) {
  const playing = S.sound.timer !== null;
  if (wanted && S.sound.on && !playing) {
    tone();
    S.sound.timer = setInterval(tone, 2000);
  } else if ((!wanted || !S.sound.on) && playing) {
    clearInterval(S.sound.timer);
    S.sound.timer = null;
  }
}

function tone() {
  const context = S.sound.context;
  if (!context) return;
  const start = context.currentTime;
  [[880, 0], [660, 0.3], [880, 0.6]].forEach(([frequency, offset]) => {
    const oscillator = context.createOscillator();
    const gain = context.createGain();
    oscillator.type = "square";
    oscillator.frequency.value = frequency;
    gain.gain.setValueAtTime(0.0001, start + offset);
    gain.gain.exponentialRampToValueAtTime(0.25, start + offset + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, start + offset + 0.25);
    oscillator.connect(gain).connect(context.destination);
    oscillator.start(start + offset);
    oscillator.stop(start + offset + 0.27);
  });
}

// --- connections ------------------------------------------------------------------------

function drawLinks() {
  const links = $("#links");
  links.textContent = "";
  const console_ = el("span", `link ${S.streamUp ? "up" : "down"}`, S.streamUp ? t("console_live") : t("console_reconnecting"));
  console_.id = "console-link";
  links.append(console_);
  const problems = [];
  if (!S.streamUp && S.session) problems.push(t("console_reconnecting_long"));
  for (const link of S.links.values()) {
    const up = link.state === "online";
    const chip = el("span", `link ${up ? "up" : "down"}`, `${t("broker")} ${link.broker}: ${t(`link_${link.state}`)}`);
    chip.dataset.broker = link.broker;
    links.append(chip);
    if (!up && link.state !== "connecting") {
      problems.push(t("broker_reconnecting", link.broker, link.error || ""));
    }
  }
  const banner = $("#connection");
  banner.hidden = problems.length === 0;
  banner.className = "connection";
  banner.textContent = problems.join(" ");
}

// --- one alarm in detail ----------------------------------------------------------------

async function select(key) {
  S.selected = key;
  $("#detail").hidden = false;
  $("#detail-reply").textContent = "";
  drawDetail();
  const alarm = S.alarms.get(key);
  if (!alarm) return;
  const { status, data } = await api("GET", `/api/alarms/${encodeURIComponent(alarm.site)}/${encodeURIComponent(alarm.id)}/events`);
  const list = $("#detail-history");
  list.textContent = "";
  if (status === 200) data.events.forEach((e) => prependEvent(list, e, true));
}

function drawDetail() {
  const alarm = S.alarms.get(S.selected);
  const fields = $("#detail-fields");
  const actions = $("#detail-actions");
  fields.textContent = "";
  actions.textContent = "";
  if (!alarm) {
    $("#detail-title").textContent = t("alarm_over");
    return;
  }
  $("#detail-title").textContent = alarm.text;
  const rows = [
    ["f_id", alarm.id],
    ["f_class", `${alarm.labels.class} · ${alarm.labels.priority}`],
    ["f_where", [alarm.site_name, alarm.building_name, alarm.zone_name].filter(Boolean).join(" / ")],
    ["f_device", alarm.device ? `${alarm.labels.kind} ${alarm.device}` : ""],
    ["f_state", [alarm.labels.state, alarm.labels.to_do].filter(Boolean).join(": ")],
    ["f_raised", `${clock(alarm.raised_at)} (${ago(alarm.raised_at)})`],
    ["f_escalation", alarm.labels.escalation],
    ["f_acknowledged", alarm.acknowledged_by ? `${alarm.acknowledged_by} ${clock(alarm.acknowledged_at)}` : ""],
    ["f_on_site", alarm.on_site_by ? `${alarm.on_site_by} ${clock(alarm.on_site_at)}` : ""],
    ["f_shelved", alarm.shelved ? `${alarm.shelved_by} → ${clock(alarm.shelved_until)}` : ""],
    ["f_out_of_service", alarm.out_of_service ? alarm.out_of_service_by : ""],
    ["f_value", alarm.value === null || alarm.value === undefined ? "" : String(alarm.value)],
  ];
  for (const [key, value] of rows) {
    if (!value) continue;
    fields.append(el("dt", "", t(key)), el("dd", "", value));
  }
  for (const action of offered(alarm)) {
    if (DURATIONS[action]) {
      const select_ = el("select", "duration");
      select_.id = `duration-${action}`;
      for (const d of DURATIONS[action]) select_.append(new Option(d, d));
      actions.append(select_);
    }
    actions.append(actionButton(alarm, action));
  }
}

function prependEvent(list, event, newestFirst) {
  const item = el("li", `event k-${event.kind}`);
  item.append(el("time", "", clock(event.at)), el("strong", "", event.kind_label));
  if (list.id === "journal-list") item.append(el("span", "", `${event.zone_name || ""} ${event.text}`));
  if (event.by) item.append(el("span", "by", t("by", event.by)));
  if (event.cause && S.lang === "en") item.append(el("span", "sub", event.cause));
  if (newestFirst) list.prepend(item);
  else list.append(item);
}

// --- the journal ------------------------------------------------------------------------

async function search(event) {
  if (event) event.preventDefault();
  const days = Number($("#days").value) || 7;
  const since = (Date.now() - days * 86400000) * 1e6;
  const q = encodeURIComponent($("#q").value.trim());
  const { status, data } = await api("GET", `/api/events?q=${q}&since=${since}&limit=300`);
  const list = $("#journal-list");
  list.textContent = "";
  if (status !== 200) return;
  if (!data.events.length) list.append(el("li", "quiet", t("nothing_found")));
  data.events.forEach((e) => prependEvent(list, e, false));
}

function showTab(name) {
  S.tab = name;
  $$("#tabs button").forEach((b) => b.classList.toggle("on", b.dataset.tab === name));
  $("#journal").hidden = name !== "journal";
  document.body.dataset.tab = name;
  if (name === "journal") search();
}

// --- start ------------------------------------------------------------------------------

async function boot() {
  document.body.classList.add(`view-${VIEW}`);
  document.body.dataset.tab = "alarms";
  const lang = pickLanguage(params.get("lang")) || pickLanguage(localStorage.getItem("firegw.lang"))
    || pickLanguage(document.documentElement.dataset.default) || "zh-CN";
  await loadWords(lang);
  $("#login").addEventListener("submit", login);
  $("#logout").addEventListener("click", logout);
  $("#lang").addEventListener("change", changeLanguage);
  $("#sound").addEventListener("click", toggleSound);
  $("#detail-close").addEventListener("click", () => { S.selected = null; $("#detail").hidden = true; });
  $("#search").addEventListener("submit", search);
  $$("#tabs button").forEach((b) => b.addEventListener("click", () => showTab(b.dataset.tab)));
  setInterval(() => {
    // Only the cells whose words change: a table of a thousand rows laid out again every
    // second would delay the next alarm.
    for (const cell of document.querySelectorAll("[data-at]")) {
      const text = ago(Number(cell.dataset.at));
      if (cell.textContent !== text) cell.textContent = text;
    }
  }, 1000);
  setInterval(() => { if (S.layout.length) drawPlaces(); }, 10000); // a gateway gone quiet
  const { status, data } = await api("GET", "/api/session");
  if (status === 200) await started(data);
  else showLogin();
}

document.addEventListener("DOMContentLoaded", boot);
