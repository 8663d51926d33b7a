// The softphone's heartbeat clock (static/js/dialer.js): a dedicated worker's timers keep their pace
// in a background tab, where the page's own timers are slowed to about once a minute.
let timer = null;
self.onmessage = function (event) {
  if (timer) clearInterval(timer);
  timer = setInterval(function () { self.postMessage("beat"); }, event.data.interval);
};
