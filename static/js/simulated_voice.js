// The simulated carrier's stand-in for the Twilio Voice SDK (static/vendor/twilio.min.js), loaded in
// its place when the simulator is on (SIMULATOR, `make run`). Same globals and the same parts of the
// API the softphone uses (Twilio.Device: register, connect, updateToken, destroy, and its events;
// Twilio.Call: accept, reject, ignore, disconnect, mute, sendDigits, status, and their events), but
// it talks to the simulated carrier over HTTP (/simulator/voice/, softphone.simulator.voice) with the
// page's access token, as the SDK talks to Twilio. No audio: the call's signalling is what is real.
(function () {
  "use strict";

  const BASE = "/simulator/voice/";
  const POLL_MS = 1000;

  class Emitter {
    constructor() { this._handlers = {}; }
    on(event, handler) { (this._handlers[event] = this._handlers[event] || []).push(handler); return this; }
    off(event, handler) {
      this._handlers[event] = (this._handlers[event] || []).filter(function (h) { return h !== handler; });
      return this;
    }
    emit(event) {
      const args = Array.prototype.slice.call(arguments, 1);
      (this._handlers[event] || []).slice().forEach(function (h) { h.apply(null, args); });
    }
  }

  function twilioError(code, message) {
    const error = new Error(message || "The simulated carrier refused the request.");
    error.code = code || 31000;
    error.description = error.message;
    return error;
  }

  async function post(device, path, fields) {
    const body = new URLSearchParams();
    Object.keys(fields || {}).forEach(function (key) { body.set(key, fields[key]); });
    let response;
    try {
      response = await fetch(BASE + path, {
        method: "POST", credentials: "same-origin", body: body,
        headers: { "X-Twilio-Access-Token": device.token, "Accept": "application/json" },
      });
    } catch (err) {
      throw twilioError(31005, "The simulated carrier could not be reached.");
    }
    let data = {};
    try { data = await response.json(); } catch (err) { data = {}; }
    if (!response.ok) throw twilioError(data.code, data.message);
    return data;
  }

  class Call extends Emitter {
    constructor(device, direction, sid, parameters, custom) {
      super();
      this._device = device;
      this.direction = direction;
      this.parameters = Object.assign({ CallSid: sid }, parameters || {});
      this.customParameters = new Map(Object.entries(custom || {}));
      this._muted = false;
      this._status = direction === "INCOMING" ? "pending" : "connecting";
      this._seen = "";
    }
    get sid() { return this.parameters.CallSid; }
    _act(action, fields) {
      const call = this;
      return post(this._device, "calls/" + encodeURIComponent(this.sid) + "/" + action + "/", fields)
        .catch(function (err) { call.emit("error", err); });
    }
    accept() {
      if (this._status !== "pending") return;
      this._status = "connecting";
      const call = this;
      this._act("accept").then(function () {
        if (call._status === "connecting") { call._status = "open"; call.emit("accept", call); }
      });
    }
    reject() {
      if (this._status !== "pending") return;
      this._status = "closed";
      this._act("reject");
      this.emit("reject");
    }
    ignore() { if (this._status === "pending") this._status = "closed"; }
    disconnect() {
      if (this._status === "closed") return;
      this._status = "closed";
      if (this.sid) this._act("hangup");
      this.emit("disconnect", this);
    }
    mute(shouldMute) {
      this._muted = shouldMute === undefined ? true : !!shouldMute;
      this.emit("mute", this._muted, this);
    }
    isMuted() { return this._muted; }
    sendDigits(digits) { if (this._status === "open") this._act("digits", { digits: String(digits) }); }
    status() { return this._status; }

    // What the carrier says of the call now (the device's poll).
    _news(view) {
      if (this._status === "closed" || view.status === this._seen) return;
      this._seen = view.status;
      const ended = ["completed", "canceled", "no-answer", "busy", "failed", "ended"].indexOf(view.status) !== -1;
      if (this.direction === "INCOMING") {
        if (!ended) return;
        const wasRinging = this._status === "pending";
        this._status = "closed";
        this.emit(wasRinging ? "cancel" : "disconnect", this);
        return;
      }
      if (view.status === "ringing") this.emit("ringing", false);
      else if (view.status === "answered" && this._status !== "open") { this._status = "open"; this.emit("accept", this); }
      else if (ended) { this._status = "closed"; this.emit("disconnect", this); }
    }
  }

  class Device extends Emitter {
    constructor(token, options) {
      super();
      this.token = token;
      this.options = options || {};
      this.state = "unregistered";
      this._calls = new Map();   // sid -> Call
      this._timer = null;
    }
    register() {
      const device = this;
      return post(this, "device/", { register: "1" }).then(function (news) {
        device.state = "registered";
        device.identity = news.identity;
        device.emit("registered");
        device._read(news);
        device._schedule();
      }, function (err) {
        device.emit("error", err);
        throw err;
      });
    }
    unregister() {
      window.clearTimeout(this._timer);
      this._timer = null;
      this.state = "unregistered";
      this.emit("unregistered");
      return Promise.resolve();
    }
    _schedule() {
      const device = this;
      window.clearTimeout(this._timer);
      this._timer = window.setTimeout(function () { device._poll(); }, POLL_MS);
    }
    _poll() {
      if (this.state !== "registered") return;
      const device = this;
      post(this, "device/", {}).then(function (news) { device._read(news); }, function (err) {
        device.emit("error", err);
      }).finally(function () { device._schedule(); });
    }
    _read(news) {
      const device = this;
      (news.calls || []).forEach(function (view) {
        let call = device._calls.get(view.sid);
        if (!call) {
          if (view.direction !== "incoming" || view.status !== "ringing") return;
          call = new Call(device, "INCOMING", view.sid, { From: view.from, To: view.to }, view.custom);
          device._calls.set(view.sid, call);
          device.emit("incoming", call);
          return;
        }
        call._news(view);
      });
    }
    connect(options) {
      const params = (options && options.params) || {};
      const device = this;
      return post(this, "connect/", params).then(function (answer) {
        const call = new Call(device, "OUTGOING", answer.sid, { To: params.To || "" }, {});
        device._calls.set(answer.sid, call);
        return call;
      });
    }
    updateToken(token) { this.token = token; }
    destroy() {
      window.clearTimeout(this._timer);
      this.state = "destroyed";
      this._calls.forEach(function (call) { if (call.status() !== "closed") call.disconnect(); });
    }
  }

  window.Twilio = { Device: Device, Call: Call, simulated: true };
})();
