// The softphone on every page of an organization (templates/telephony/_softphone.html): one Twilio
// Device per voice-ready Twilio account (static/vendor/twilio.min.js, from npm), the dialer, the call
// in progress (mute, hold, keys, transfer, hang up), incoming calls, click-to-call, and the presence
// heartbeat that tells the server this person's browser can take a call.
//
// Everything shown here is text (textContent), never HTML built from what the server or a caller sent.
(function () {
  "use strict";

  const root = document.getElementById("softphone");
  if (!root) return;

  const $ = function (id) { return document.getElementById(id); };
  const el = {
    toggle: $("softphone-toggle"), toggleState: $("softphone-toggle-state"), dot: $("softphone-dot"),
    close: $("softphone-close"), status: $("softphone-status"), problems: $("softphone-problems"),
    dialer: $("dialer"), from: $("dialer-from"), fromRow: $("dialer-from-row"), number: $("dialer-number"),
    backspace: $("dialer-backspace"), callButton: $("dialer-call"), dialError: $("dialer-error"),
    callView: $("call-view"), callName: $("call-name"), callNumber: $("call-number"), callLine: $("call-line"),
    callState: $("call-state"), timer: $("call-timer"), conversation: $("call-conversation"),
    mute: $("call-mute"), hold: $("call-hold"), keys: $("call-keys"), transfer: $("call-transfer"),
    digits: $("call-digits"), callError: $("call-error"), hangup: $("call-hangup"), keypad: $("keypad"),
    transferBox: $("transfer"), transferList: $("transfer-list"), transferState: $("transfer-state"),
    transferWarm: $("transfer-warm"), transferComplete: $("transfer-complete"), transferCancel: $("transfer-cancel"),
    incoming: $("incoming-call"), incomingName: $("incoming-name"), incomingNumber: $("incoming-number"),
    incomingLine: $("incoming-line"), incomingConversation: $("incoming-conversation"),
    accept: $("incoming-accept"), reject: $("incoming-reject"), announce: $("softphone-announce"),
  };
  const TOKEN_URL = root.dataset.tokenUrl;
  const CALLS_URL = root.dataset.callsUrl;  // /o/<slug>/calls/: the live-call endpoints hang off it
  const CSRF = root.dataset.csrf;

  let config = null;              // the token endpoint's answer
  let setupError = "";            // why there is no softphone at all (not an agent, server unreachable)
  let micDenied = false;
  let deviceError = "";
  const devices = new Map();      // Twilio account id -> Twilio.Device
  const registered = new Set();   // account ids whose Device is registered
  let current = null;             // the call in progress (see newCall)
  let ringing = null;             // an incoming call waiting for accept or reject
  let lastEnded = "";             // "Call ended · 1:05", until the next call

  // Formatting --------------------------------------------------------------------------------------

  // What a person typed, without the formatting: digits, a leading +, and * or # for codes.
  function compact(value) {
    const kept = String(value || "").replace(/[^\d+*#]/g, "");
    return kept.charAt(0) === "+" ? "+" + kept.slice(1).replace(/\+/g, "") : kept.replace(/\+/g, "");
  }

  function nanp(d) {
    if (d.length <= 3) return d.length ? "(" + d : "";
    if (d.length <= 6) return "(" + d.slice(0, 3) + ") " + d.slice(3);
    return "(" + d.slice(0, 3) + ") " + d.slice(3, 6) + "-" + d.slice(6);
  }

  // As-you-type: North American numbers as +1 (415) 555-0142 or (415) 555-0142; anything else (other
  // countries, codes with * or #) as typed, without stray characters.
  function formatNumber(value) {
    const c = compact(value);
    if (/[*#]/.test(c)) return c;
    if (c.slice(0, 2) === "+1" && c.length <= 12) return "+1 " + nanp(c.slice(2));
    if (c.charAt(0) === "1" && c.length <= 11 && c.length > 1) return "1 " + nanp(c.slice(1));
    if (c.charAt(0) !== "+" && c.charAt(0) !== "0" && c.charAt(0) !== "1" && c.length <= 10) return nanp(c);
    return c;
  }

  // Reformat the field keeping the caret after the same number of significant characters.
  function reformat(input) {
    const caret = input.selectionStart === null ? input.value.length : input.selectionStart;
    const before = compact(input.value.slice(0, caret)).length;
    const formatted = formatNumber(input.value);
    input.value = formatted;
    let seen = 0;
    let position = formatted.length;
    if (before === 0) position = 0;
    for (let i = 0; i < formatted.length && before > 0; i++) {
      if (/[\d+*#]/.test(formatted.charAt(i))) seen++;
      if (seen === before) { position = i + 1; break; }
    }
    if (document.activeElement === input) input.setSelectionRange(position, position);
  }

  function clock(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    const rest = String(s % 60).padStart(2, "0");
    return h ? h + ":" + String(m).padStart(2, "0") + ":" + rest : m + ":" + rest;
  }

  // Requests ----------------------------------------------------------------------------------------

  function form(fields) {
    const body = new URLSearchParams();
    Object.keys(fields).forEach(function (key) { body.set(key, fields[key]); });
    return body;
  }

  // JSON in, JSON out; an error is thrown with the server's sentence ({"error": ...}) when it gave one.
  async function request(url, fields) {
    const options = { credentials: "same-origin", headers: { "Accept": "application/json" } };
    if (fields) {
      options.method = "POST";
      options.headers["X-CSRFToken"] = CSRF;
      options.body = form(fields);
    }
    let response;
    try {
      response = await fetch(url, options);
    } catch (err) {
      throw new Error("The server could not be reached. Check your connection and try again.");
    }
    let data = null;
    try { data = await response.json(); } catch (err) { data = null; }
    if (!response.ok) {
      const error = new Error((data && (data.error || data.detail)) || "That did not work (error " + response.status + ").");
      error.status = response.status;
      throw error;
    }
    return data || {};
  }

  // Problems and the overall state ------------------------------------------------------------------

  function problemList() {
    const list = [];
    if (setupError) list.push(setupError);
    if (typeof window.Twilio === "undefined" || !window.Twilio.Device) {
      list.push("The phone's software did not load, so calls cannot be made here. Reload the page to try again.");
    }
    if (config) {
      (config.problems || []).forEach(function (p) { list.push("Voice is not working for " + p); });
      if (!(config.devices || []).length && !(config.problems || []).length) {
        list.push("Voice is not set up for your organization's Twilio account yet, so calls cannot be made or taken in the browser. An admin can turn it on under Numbers.");
      } else if ((config.devices || []).length && !(config.numbers || []).length) {
        list.push("You have no number to call from: ask an admin to assign you a number with voice.");
      }
    }
    if (micDenied) {
      list.push("Your browser blocks the microphone for this site, so you cannot make or take calls. Allow the microphone in the site's settings (the icon beside the address), then try again.");
    }
    if (deviceError) list.push(deviceError);
    return list;
  }

  function render() {
    const problems = problemList();
    el.problems.replaceChildren();
    problems.forEach(function (text) {
      const p = document.createElement("p");
      p.textContent = text;
      el.problems.appendChild(p);
    });
    el.problems.hidden = problems.length === 0;

    const numbers = (config && config.numbers) || [];
    // A blocked microphone is said, not enforced: the next call asks the browser again.
    const ready = registered.size > 0 && numbers.length > 0;
    let status;
    if (current) status = current.label;
    else if (ringing) status = "Incoming call";
    else if (ready) status = lastEnded || "Ready";
    else if (!config && !setupError) status = "Starting…";
    else if (registered.size === 0 && devices.size > 0) status = "Connecting to Twilio…";
    else status = "Unavailable";
    if (el.status.textContent !== status) el.status.textContent = status;

    const offline = !ready && !current;
    el.dot.className = "phone-dot " + (current ? "phone-busy" : ready ? "phone-ready" : "phone-off");
    el.toggleState.textContent = current ? " (in a call)" : ringing ? " (incoming call)" : offline ? " (unavailable)" : "";

    el.callButton.disabled = !ready || !!current || !!ringing;
    el.dialer.hidden = !!current;
    el.callView.hidden = !current;
    el.callButton.hidden = !!current;
    el.hangup.hidden = !current;
    // Idle, the keypad dials; in a call it sends tones, shown on demand.
    el.keypad.hidden = !!current && el.keys.getAttribute("aria-pressed") !== "true";
    if (!current) {
      el.transferBox.hidden = true;
      el.transfer.setAttribute("aria-expanded", "false");
    }
  }

  function openPanel(focusTarget) {
    root.hidden = false;
    el.toggle.setAttribute("aria-expanded", "true");
    const target = focusTarget || (current ? el.hangup : el.number);
    if (target && !target.disabled) target.focus();
  }

  function closePanel() {
    root.hidden = true;
    el.toggle.setAttribute("aria-expanded", "false");
    el.toggle.focus();
  }

  // The token, the Devices, presence ----------------------------------------------------------------

  function fillNumbers() {
    const numbers = (config && config.numbers) || [];
    const chosen = el.from.value;
    el.from.replaceChildren();
    numbers.forEach(function (n) {
      const option = document.createElement("option");
      option.value = n.id;
      option.textContent = n.label && n.label !== n.number ? n.label + " · " + formatNumber(n.number) : formatNumber(n.number);
      el.from.appendChild(option);
    });
    if (numbers.some(function (n) { return n.id === chosen; })) el.from.value = chosen;
    el.from.disabled = numbers.length < 2;
  }

  async function loadConfig() {
    const answer = await request(TOKEN_URL);
    config = answer;
    fillNumbers();
    return answer;
  }

  function deviceOptions() {
    // closeProtection: the browser asks before a tab with a call in progress is closed or left.
    return { closeProtection: "A call is in progress: leaving this page ends it.", codecPreferences: ["opus", "pcmu"] };
  }

  function describeError(err) {
    if (!err) return "Something went wrong with the phone.";
    if (err.code === 31401 || err.code === 31208 || err.name === "NotAllowedError") {
      micDenied = true;
      return "";
    }
    const text = err.message || err.description || String(err);
    return err.code ? text + " (Twilio error " + err.code + ")" : text;
  }

  function startDevices() {
    if (!config || typeof window.Twilio === "undefined" || !window.Twilio.Device) { render(); return; }
    (config.devices || []).forEach(function (entry) {
      if (devices.has(entry.account)) return;
      const device = new window.Twilio.Device(entry.token, deviceOptions());
      devices.set(entry.account, device);
      device.on("registered", function () {
        registered.add(entry.account);
        deviceError = "";
        heartbeat.start();
        render();
      });
      device.on("unregistered", function () {
        registered.delete(entry.account);
        if (registered.size === 0) heartbeat.stop(true);
        render();
      });
      device.on("error", function (err, call) {
        // Token errors: fetch a fresh one (an expired token, a key that was rotated), at most once a
        // minute: a token that is refused again is a set-up problem, said below.
        const tokenError = err && [20101, 20104, 31204, 31205].indexOf(err.code) !== -1;
        if (tokenError && Date.now() - (renewedAt.get(entry.account) || 0) > 60000) {
          refreshToken(entry.account, device);
          return;
        }
        const text = describeError(err);
        if (call && current && current.call === call) showCallError(text);
        else if (text) deviceError = "The phone reported a problem: " + text;
        render();
      });
      device.on("incoming", onIncoming);
      device.on("tokenWillExpire", function () { refreshToken(entry.account, device); });
      Promise.resolve(device.register()).catch(function (err) {
        const text = describeError(err);
        if (text) deviceError = "The phone could not connect to Twilio: " + text;
        render();
      });
    });
    render();
  }

  const renewedAt = new Map();  // account id -> when its token was last renewed

  async function refreshToken(account, device) {
    renewedAt.set(account, Date.now());
    try {
      const fresh = await loadConfig();
      const entry = (fresh.devices || []).find(function (d) { return d.account === account; });
      if (entry) device.updateToken(entry.token);
      else deviceError = "Voice was turned off for one of your organization's Twilio accounts.";
    } catch (err) {
      deviceError = "The phone could not renew its access: " + err.message;
      window.setTimeout(function () { refreshToken(account, device); }, 30000);
    }
    render();
  }

  function showPresence(answer) {
    const label = document.getElementById("voice-presence");
    if (!label || !answer || !answer.label) return;
    label.textContent = answer.label;
    label.className = "presence presence-" + answer.status;
  }

  // The heartbeat runs in a worker where the browser allows one: timers in background tabs are
  // slowed to once a minute after a few minutes, which would make a person look offline.
  const heartbeat = (function () {
    let timer = null;
    let worker = null;
    // One presence request at a time, in order: a beat still on its way must not reach the server
    // after the goodbye that followed it (the server would think the phone is back).
    let last = Promise.resolve();
    function send(state) {
      last = last.then(function () {
        return request(config.heartbeat_url, { state: state }).then(showPresence, function () {});
      });
    }
    function beat() {
      if (!config || registered.size === 0) return;
      send("registered");
    }
    function start() {
      if (timer || worker || !config) return;
      beat();
      const interval = Math.max(5, Number(config.heartbeat_interval) || 15) * 1000;
      try {
        worker = new Worker(root.dataset.workerUrl);
        worker.onmessage = beat;
        worker.onerror = function () { worker.terminate(); worker = null; timer = window.setInterval(beat, interval); };
        worker.postMessage({ interval: interval });
      } catch (err) {
        worker = null;
        timer = window.setInterval(beat, interval);
      }
    }
    function stop(sayGone) {
      if (timer) window.clearInterval(timer);
      if (worker) worker.terminate();
      timer = null;
      worker = null;
      if (sayGone && config) send("gone");
    }
    // The tab is closing or navigating away: fetch may not finish, a beacon does.
    function goodbye() {
      if (!config || registered.size === 0) return;
      const body = new FormData();
      body.set("csrfmiddlewaretoken", CSRF);
      body.set("state", "gone");
      navigator.sendBeacon(config.heartbeat_url, body);
    }
    return { start: start, stop: stop, beat: beat, goodbye: goodbye };
  })();

  function watchMicrophone() {
    if (!navigator.permissions || !navigator.permissions.query) return;
    navigator.permissions.query({ name: "microphone" }).then(function (permission) {
      const apply = function () { micDenied = permission.state === "denied"; render(); };
      apply();
      permission.addEventListener("change", apply);
    }, function () {});
  }

  // Calls -------------------------------------------------------------------------------------------

  function newCall(fields) {
    return Object.assign({
      call: null, direction: "outbound", callId: "", name: "", number: "", line: "", conversationUrl: "",
      label: "Connecting…", answeredAt: 0, held: false, muted: false, cancelled: false, ended: false,
      transferTo: "",
    }, fields);
  }

  function setState(label) {
    if (!current) return;
    current.label = label;
    el.callState.textContent = label;
    render();
  }

  function showCall() {
    el.callName.textContent = current.name || formatNumber(current.number) || "Unknown caller";
    el.callNumber.textContent = current.name ? formatNumber(current.number) : "";
    el.callLine.textContent = current.line ? (current.direction === "inbound" ? "on " : "from ") + current.line : "";
    el.callState.textContent = current.label;
    el.timer.textContent = "0:00";
    el.timer.hidden = true;
    el.digits.textContent = "";
    el.callError.textContent = "";
    el.callError.hidden = true;
    setLink(el.conversation, current.conversationUrl);
    setPressed(el.mute, false, "Mute", "Unmute");
    setPressed(el.hold, false, "Hold", "Resume");
    setPressed(el.keys, false);
    el.mute.disabled = el.hold.disabled = el.keys.disabled = el.transfer.disabled = true;
    el.transferBox.hidden = true;
    el.transferList.hidden = false;
    el.transferWarm.hidden = true;
    el.transferState.textContent = "";
    render();
  }

  function setLink(link, url) {
    // Same-origin paths only: this came from the server or from a call's parameters.
    if (url && url.charAt(0) === "/" && url.charAt(1) !== "/") {
      link.href = url;
      link.hidden = false;
    } else {
      link.removeAttribute("href");
      link.hidden = true;
    }
  }

  function setPressed(button, pressed, offText, onText) {
    button.setAttribute("aria-pressed", pressed ? "true" : "false");
    if (offText) button.textContent = pressed ? onText : offText;
  }

  function showCallError(text) {
    if (!text) { render(); return; }
    el.callError.textContent = text;
    el.callError.hidden = false;
  }

  let ticking = null;
  function startTimer() {
    current.answeredAt = Date.now();
    el.timer.hidden = false;
    const tick = function () { if (current) el.timer.textContent = clock((Date.now() - current.answeredAt) / 1000); };
    tick();
    ticking = window.setInterval(tick, 1000);
  }

  function answered() {
    if (!current || current.ended) return;
    micDenied = false;  // the call has audio: whatever was blocked is allowed now
    setState("In call");
    startTimer();
    el.mute.disabled = el.keys.disabled = false;
    el.hold.disabled = el.transfer.disabled = !current.callId;
    if (!current.callId) findOurCall(current);
    heartbeat.beat();  // the server now says "In a call"
  }

  // The browser's outbound call is a Twilio CallSid: ask the server which of our calls it is (for
  // hold and transfer, and the contact's name and conversation).
  async function findOurCall(state) {
    const sid = state.call && state.call.parameters && state.call.parameters.CallSid;
    if (!sid) return;
    try {
      const answer = await request(CALLS_URL + "live/?sid=" + encodeURIComponent(sid));
      if (current !== state || !answer.call) return;
      state.callId = answer.call.id;
      if (answer.call.contact_name) state.name = answer.call.contact_name;
      if (answer.call.contact_number) state.number = answer.call.contact_number;
      if (answer.call.conversation_url) state.conversationUrl = answer.call.conversation_url;
      el.callName.textContent = state.name || formatNumber(state.number);
      el.callNumber.textContent = state.name ? formatNumber(state.number) : "";
      setLink(el.conversation, state.conversationUrl);
      el.hold.disabled = el.transfer.disabled = state.ended;
    } catch (err) {
      el.hold.title = el.transfer.title = "Hold and transfer are not available for this call: " + err.message;
    }
  }

  function finish(summary) {
    if (!current || current.ended) return;
    const state = current;
    state.ended = true;
    if (ticking) window.clearInterval(ticking);
    ticking = null;
    const talked = state.answeredAt ? " · " + clock((Date.now() - state.answeredAt) / 1000) : "";
    lastEnded = (summary || "Call ended") + talked;
    current = null;
    render();
    el.status.textContent = lastEnded;
    heartbeat.beat();
    // The call's controls just disappeared: keep the keyboard in the phone.
    const lost = !document.activeElement || document.activeElement === document.body;
    if (!root.hidden && lost) el.number.focus();
  }

  function wire(state) {
    const call = state.call;
    call.on("ringing", function () { if (current === state && !state.answeredAt) setState("Ringing…"); });
    call.on("accept", function () { if (current === state) answered(); });
    call.on("disconnect", function () { if (current === state) finish(state.transferTo ? "Transferred to " + state.transferTo : "Call ended"); });
    call.on("cancel", function () { if (current === state) finish("Call cancelled"); });
    call.on("reject", function () { if (current === state) finish("Call rejected"); });
    call.on("reconnecting", function () { if (current === state) setState("Reconnecting…"); });
    call.on("reconnected", function () { if (current === state) setState(state.held ? "On hold" : "In call"); });
    call.on("mute", function (muted) {
      if (current !== state) return;
      state.muted = !!muted;
      setPressed(el.mute, state.muted, "Mute", "Unmute");
    });
    call.on("error", function (err) {
      if (current !== state) return;
      const text = describeError(err);
      showCallError(text || "The microphone is blocked, so the call cannot go on.");
      render();
    });
  }

  async function placeCall() {
    el.dialError.textContent = "";
    if (current || ringing) return;
    const to = compact(el.number.value);
    if (!/\d/.test(to)) { el.dialError.textContent = "Enter a number to call."; el.number.focus(); return; }
    const numbers = (config && config.numbers) || [];
    const from = numbers.find(function (n) { return n.id === el.from.value; }) || numbers[0];
    if (!from) { el.dialError.textContent = "You have no number to call from."; return; }
    const device = devices.get(from.account);
    if (!device || !registered.has(from.account)) {
      el.dialError.textContent = "The phone is not connected to Twilio yet: try again in a moment.";
      return;
    }
    lastEnded = "";
    current = newCall({ direction: "outbound", number: to, line: from.label || from.number });
    const state = current;
    showCall();
    el.hangup.focus();
    try {
      const call = await device.connect({ params: { To: to, FromNumber: from.id } });
      state.call = call;
      if (state.cancelled || current !== state) { call.disconnect(); return; }
      wire(state);
    } catch (err) {
      const text = describeError(err);
      if (current === state) {
        finish("Call failed");
        el.dialError.textContent = text || "The microphone is blocked, so the call could not start.";
      }
    }
  }

  function hangUp() {
    if (!current) return;
    const state = current;
    if (!state.call) { state.cancelled = true; finish("Call cancelled"); return; }
    state.call.disconnect();
    finish(state.transferTo ? "Transferred to " + state.transferTo : "Call ended");
  }

  function toggleMute() {
    if (!current || !current.call) return;
    const next = !current.call.isMuted();
    current.call.mute(next);
    current.muted = next;
    setPressed(el.mute, next, "Mute", "Unmute");
  }

  async function toggleHold() {
    if (!current || !current.callId) return;
    const state = current;
    const next = !state.held;
    el.hold.disabled = true;
    el.callError.hidden = true;
    try {
      const answer = await request(CALLS_URL + state.callId + "/hold/", { hold: next ? "1" : "0" });
      if (current !== state) return;
      state.held = !!answer.held;
      setPressed(el.hold, state.held, "Hold", "Resume");
      setState(state.held ? "On hold" : "In call");
    } catch (err) {
      if (current === state) showCallError(err.message);
    } finally {
      if (current === state) el.hold.disabled = false;
    }
  }

  function pressKey(key) {
    if (current) {
      if (!current.call || !current.answeredAt) return;
      current.call.sendDigits(key);
      el.digits.textContent = (el.digits.textContent + key).slice(-24);
      return;
    }
    const input = el.number;
    input.value = input.value + key;
    reformat(input);
  }

  // Incoming calls ----------------------------------------------------------------------------------

  function param(call, name) {
    const custom = call.customParameters;
    if (custom && typeof custom.get === "function" && custom.get(name)) return String(custom.get(name));
    return "";
  }

  function onIncoming(call) {
    if (current || ringing) {
      // Busy here (the server does not ring someone in a call; another tab of theirs may ring).
      call.ignore();
      return;
    }
    const from = (call.parameters && call.parameters.From) || "";
    ringing = {
      call: call, callId: param(call, "call_id"), name: param(call, "contact_name"),
      number: param(call, "contact_number") || from, line: param(call, "number_label"),
      conversationUrl: param(call, "conversation_url"),
    };
    const state = ringing;
    const who = state.name || formatNumber(state.number) || "Unknown caller";
    el.incomingName.textContent = who;
    el.incomingNumber.textContent = state.name ? formatNumber(state.number) : "";
    el.incomingLine.textContent = state.line ? "Calling " + state.line : "";
    setLink(el.incomingConversation, state.conversationUrl);
    el.incoming.hidden = false;
    el.announce.textContent = "Incoming call from " + who + (state.line ? " on " + state.line : "") + ".";
    const typing = document.activeElement && /^(INPUT|TEXTAREA|SELECT)$/.test(document.activeElement.tagName);
    if (!typing) el.accept.focus();
    // It stopped ringing here: the caller hung up, or another tab or person took it (the SDK does not
    // say which), so say only what is sure.
    const gone = function () {
      if (ringing !== state) return;
      ringing = null;
      el.incoming.hidden = true;
      el.announce.textContent = "";
      lastEnded = "Call from " + who + " stopped ringing";
      render();
    };
    call.on("cancel", gone);
    call.on("disconnect", gone);
    call.on("error", gone);
    if (!state.callId) describeRinging(state);
    render();
  }

  // A call that rings without our parameters (a colleague transferring to me, a call I placed from
  // the API ringing me first): the server says which call it is and who is on it.
  async function describeRinging(state) {
    const sid = state.call.parameters && state.call.parameters.CallSid;
    if (!sid) return;
    try {
      const answer = await request(CALLS_URL + "live/?sid=" + encodeURIComponent(sid));
      if (ringing !== state || !answer.call) return;
      state.callId = answer.call.id;
      state.name = answer.call.contact_name || state.name;
      state.number = answer.call.contact_number || state.number;
      state.conversationUrl = answer.call.conversation_url || state.conversationUrl;
      el.incomingName.textContent = state.name || formatNumber(state.number) || "Unknown caller";
      el.incomingNumber.textContent = state.name ? formatNumber(state.number) : "";
      setLink(el.incomingConversation, state.conversationUrl);
    } catch (err) {
      // Not ours to describe (or the server is unreachable): the notification keeps what Twilio said.
    }
  }

  function accept() {
    if (!ringing) return;
    const state = ringing;
    ringing = null;
    el.incoming.hidden = true;
    el.announce.textContent = "";
    lastEnded = "";
    current = newCall({
      call: state.call, direction: "inbound", callId: state.callId, name: state.name, number: state.number,
      line: state.line, conversationUrl: state.conversationUrl,
    });
    wire(current);
    showCall();
    openPanel(el.hangup);
    state.call.accept();
  }

  function reject() {
    if (!ringing) return;
    const state = ringing;
    ringing = null;
    el.incoming.hidden = true;
    el.announce.textContent = "";
    state.call.reject();
    lastEnded = "Rejected call from " + (state.name || formatNumber(state.number));
    render();
  }

  // Transfer ----------------------------------------------------------------------------------------

  const TRANSFER_STATES = {
    pending: "Putting the caller on hold, then calling {name}…",
    queued: "Calling {name}…", initiated: "Calling {name}…", ringing: "Calling {name}…",
    "in-progress": "Talking to {name}; the caller is on hold.", talking: "Talking to {name}; the caller is on hold.",
    answered: "Talking to {name}; the caller is on hold.", connected: "Talking to {name}; the caller is on hold.",
    completed: "Transferred to {name}.", transferred: "Transferred to {name}.",
    canceled: "Transfer cancelled: you are back with the caller.", cancelled: "Transfer cancelled: you are back with the caller.",
    failed: "{name} could not be reached.", "no-answer": "{name} did not answer.", busy: "{name} is busy.",
  };

  function transferText(transfer, fallbackName) {
    const name = (transfer && transfer.to_name) || fallbackName || "your colleague";
    const template = TRANSFER_STATES[(transfer && transfer.state) || ""] || "Transfer: {state}.";
    return template.replace("{name}", name).replace("{state}", (transfer && transfer.state) || "unknown");
  }

  async function openTransfer() {
    if (!current || !current.callId) return;
    const opening = el.transferBox.hidden;
    el.transferBox.hidden = !opening;
    el.transfer.setAttribute("aria-expanded", opening ? "true" : "false");
    if (!opening) return;
    el.transferState.textContent = "Loading your colleagues…";
    el.transferList.replaceChildren();
    try {
      const answer = await request(CALLS_URL + "transfer-targets/");
      const agents = answer.agents || [];
      el.transferState.textContent = agents.length ? "" : "Nobody else can take a call right now.";
      agents.forEach(function (agent) {
        const item = document.createElement("li");
        const who = document.createElement("span");
        who.className = "transfer-name";
        who.textContent = agent.name;
        const label = document.createElement("span");
        label.className = "presence presence-" + agent.status;
        label.textContent = agent.label || agent.status;
        const free = agent.status === "available";
        const blind = document.createElement("button");
        blind.type = "button";
        blind.textContent = "Transfer";
        blind.setAttribute("aria-label", "Transfer the call to " + agent.name + " now");
        blind.disabled = !free;
        blind.addEventListener("click", function () { transfer(agent, "blind"); });
        const warm = document.createElement("button");
        warm.type = "button";
        warm.textContent = "Talk first";
        warm.setAttribute("aria-label", "Talk first with " + agent.name + ", then transfer");
        warm.disabled = !free;
        warm.addEventListener("click", function () { transfer(agent, "warm"); });
        item.append(who, " ", label, " ", blind, " ", warm);
        el.transferList.appendChild(item);
      });
    } catch (err) {
      el.transferState.textContent = err.message;
    }
  }

  async function transfer(agent, mode) {
    if (!current || !current.callId) return;
    const state = current;
    el.transferState.textContent = (mode === "warm" ? "Calling " : "Transferring to ") + agent.name + "…";
    try {
      const answer = await request(CALLS_URL + state.callId + "/transfer/", { to: agent.id, mode: mode });
      if (current !== state) return;
      const name = (answer.transfer && answer.transfer.to_name) || agent.name;
      el.transferState.textContent = transferText(answer.transfer, name);
      if (mode === "warm") {
        state.transferPending = name;
        el.transferWarm.hidden = false;
        el.transferList.hidden = true;
        setState("Transfer to " + name);
      } else {
        state.transferTo = name;
        setState("Transferred to " + name);
      }
    } catch (err) {
      if (current === state) el.transferState.textContent = err.message;
    }
  }

  async function transferStep(step) {
    if (!current || !current.callId) return;
    const state = current;
    try {
      const answer = await request(CALLS_URL + state.callId + "/transfer/" + step + "/", {});
      if (current !== state) return;
      const name = (answer.transfer && answer.transfer.to_name) || state.transferPending;
      if (step === "complete") {
        state.transferTo = name;
        el.transferState.textContent = "Transferred to " + name + ".";
        setState("Transferred to " + name);
      } else {
        el.transferState.textContent = "Transfer cancelled: you are back with the caller.";
        setState(state.held ? "On hold" : "In call");
      }
      state.transferPending = "";
      el.transferWarm.hidden = true;
      el.transferList.hidden = false;
    } catch (err) {
      if (current === state) el.transferState.textContent = err.message;
    }
  }

  // Click-to-call ------------------------------------------------------------------------------------

  function dialFrom(trigger) {
    const number = trigger.dataset.number || "";
    openPanel();
    if (current || ringing) {
      el.dialError.textContent = "Finish the current call first.";
      return;
    }
    el.number.value = formatNumber(number);
    const wanted = trigger.dataset.from;
    if (wanted && Array.from(el.from.options).some(function (o) { return o.value === wanted; })) el.from.value = wanted;
    placeCall();
  }

  // Events -------------------------------------------------------------------------------------------

  el.toggle.addEventListener("click", function () { if (root.hidden) openPanel(); else closePanel(); });
  el.close.addEventListener("click", closePanel);
  el.number.addEventListener("input", function () { reformat(el.number); el.dialError.textContent = ""; });
  el.dialer.addEventListener("submit", function (event) { event.preventDefault(); placeCall(); });
  el.backspace.addEventListener("click", function () {
    el.number.value = formatNumber(compact(el.number.value).slice(0, -1));
    el.number.focus();
  });
  el.keypad.addEventListener("click", function (event) {
    const key = event.target.closest("button[data-key]");
    if (key) pressKey(key.dataset.key);
  });
  el.hangup.addEventListener("click", hangUp);
  el.mute.addEventListener("click", toggleMute);
  el.hold.addEventListener("click", toggleHold);
  el.keys.addEventListener("click", function () {
    setPressed(el.keys, el.keys.getAttribute("aria-pressed") !== "true");
    render();
  });
  el.transfer.addEventListener("click", openTransfer);
  el.transferComplete.addEventListener("click", function () { transferStep("complete"); });
  el.transferCancel.addEventListener("click", function () { transferStep("cancel"); });
  el.accept.addEventListener("click", accept);
  el.reject.addEventListener("click", reject);

  root.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "Escape") { event.preventDefault(); closePanel(); return; }
    // Keys pressed in the phone belong to it (not to the page's own shortcuts); during a call, digits
    // typed anywhere in it but a text field are tones.
    event.stopPropagation();
    const inField = /^(INPUT|TEXTAREA|SELECT)$/.test(event.target.tagName);
    if (current && !inField && /^[0-9*#]$/.test(event.key)) { event.preventDefault(); pressKey(event.key); }
  });
  document.addEventListener("keydown", function (event) {
    if (event.altKey && !event.ctrlKey && !event.metaKey && (event.key === "p" || event.key === "P" || event.code === "KeyP")) {
      event.preventDefault();
      if (root.hidden) openPanel(); else closePanel();
    }
  });
  document.addEventListener("click", function (event) {
    const trigger = event.target.closest && event.target.closest("[data-softphone-dial]");
    if (!trigger) return;
    event.preventDefault();
    dialFrom(trigger);
  });
  window.addEventListener("pagehide", heartbeat.goodbye);
  document.addEventListener("visibilitychange", function () { if (!document.hidden) heartbeat.beat(); });

  // Start ----------------------------------------------------------------------------------------------

  render();
  watchMicrophone();
  // The server restarting or the network gone: try again shortly. A refusal (not an agent here) is final.
  function start() {
    loadConfig().then(function () { setupError = ""; startDevices(); }, function (err) {
      setupError = err.message;
      render();
      if (!err.status || err.status >= 500) window.setTimeout(start, 15000);
    });
  }
  start();
})();
