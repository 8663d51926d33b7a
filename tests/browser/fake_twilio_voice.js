// A test double of the Twilio Voice SDK's browser build (static/vendor/twilio.min.js), served in its
// place by tests/browser/test_softphone.py: the same globals (window.Twilio.Device, Twilio.Call) and
// the parts of their API the softphone uses, with no network. `window.__twilio` records what the
// page asked for; `window.__twilioTest` plays Twilio's side (ringing, answered, an incoming call...).
(function () {
  "use strict";

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

  const log = { devices: [], calls: [], connects: [], tokens: [], options: [] };
  let sids = 0;
  function sid() { sids += 1; return "CA" + String(sids).padStart(32, "0"); }

  class Call extends Emitter {
    constructor(direction, parameters, custom) {
      super();
      this.direction = direction;
      this.parameters = parameters || {};
      this.customParameters = new Map(Object.entries(custom || {}));
      this._muted = false;
      this._status = "pending";
      this.digits = "";
      this.accepted = this.rejected = this.ignored = this.disconnected = false;
      log.calls.push(this);
    }
    accept() {
      this.accepted = true;
      const call = this;
      setTimeout(function () { call._status = "open"; call.emit("accept", call); }, 10);
    }
    reject() { this.rejected = true; this._status = "closed"; this.emit("reject"); }
    ignore() { this.ignored = true; this._status = "closed"; }
    disconnect() {
      if (this._status === "closed") return;
      this.disconnected = true;
      this._status = "closed";
      this.emit("disconnect", this);
    }
    mute(shouldMute) {
      this._muted = shouldMute === undefined ? true : !!shouldMute;
      this.emit("mute", this._muted, this);
    }
    isMuted() { return this._muted; }
    sendDigits(digits) { this.digits += digits; }
    status() { return this._status; }
  }

  class Device extends Emitter {
    constructor(token, options) {
      super();
      this.token = token;
      this.state = "unregistered";
      log.devices.push(this);
      log.options.push(options || {});
    }
    register() {
      const device = this;
      return new Promise(function (resolve) {
        setTimeout(function () { device.state = "registered"; device.emit("registered"); resolve(); }, 10);
      });
    }
    unregister() {
      this.state = "unregistered";
      this.emit("unregistered");
      return Promise.resolve();
    }
    connect(options) {
      log.connects.push(JSON.parse(JSON.stringify(options)));
      if (window.__twilioMicDenied) {
        const error = new Error("Permission denied by the user");
        error.code = 31401;
        error.name = "PermissionDeniedError";
        return Promise.reject(error);
      }
      return Promise.resolve(new Call("OUTGOING", { CallSid: sid(), To: options.params.To }, {}));
    }
    updateToken(token) { this.token = token; log.tokens.push(token); }
    destroy() { this.state = "destroyed"; }
  }

  window.__twilio = log;
  window.__twilioTest = {
    last: function () { return log.calls[log.calls.length - 1]; },
    ringing: function () { this.last().emit("ringing", false); },
    answered: function () { const call = this.last(); call._status = "open"; call.emit("accept", call); },
    remoteHangup: function () { const call = this.last(); call._status = "closed"; call.emit("disconnect", call); },
    callerGaveUp: function () { const call = this.last(); call._status = "closed"; call.emit("cancel"); },
    incoming: function (custom, from) {
      const call = new Call("INCOMING", { CallSid: sid(), From: from || "" }, custom);
      log.devices[0].emit("incoming", call);
    },
    tokenWillExpire: function () { log.devices[0].emit("tokenWillExpire", log.devices[0]); },
    unregister: function () { log.devices.forEach(function (d) { d.unregister(); }); },
  };
  window.Twilio = { Device: Device, Call: Call };
})();
