// The inbox's plain JavaScript: live updates (polling with a cursor), the keyboard, the composer's
// helpers (Enter sends, segment counter, /canned replies) and older messages on scroll. htmx does the
// requests for forms and links; everything here only ever inserts HTML the server rendered (escaped).
(function () {
  "use strict";

  const POLL_VISIBLE_MS = 1500;
  const POLL_HIDDEN_MS = 10000;

  const inbox = document.getElementById("inbox");
  if (!inbox) return;

  // Helpers ----------------------------------------------------------------------------------------

  function fragment(html) {
    const template = document.createElement("template");
    template.innerHTML = html.trim();
    return template.content.firstElementChild;
  }

  function openId() {
    const thread = document.getElementById("thread");
    return thread ? thread.dataset.conversation : "";
  }

  function typing(target) {
    return target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }

  function localTimes(root) {
    (root || document).querySelectorAll("time[data-clock]").forEach(function (el) {
      const when = new Date(el.getAttribute("datetime"));
      if (!isNaN(when)) el.textContent = when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    });
  }

  // Day separators: one before the first message of each day.
  function daySeparators() {
    const box = document.getElementById("messages");
    if (!box) return;
    box.querySelectorAll(".day-sep").forEach(function (el) { el.remove(); });
    let last = "";
    box.querySelectorAll("article.bubble").forEach(function (bubble) {
      const day = bubble.dataset.day;
      if (day && day !== last) {
        const sep = document.createElement("div");
        sep.className = "day-sep";
        sep.setAttribute("role", "separator");
        const when = new Date(bubble.dataset.created);
        sep.textContent = isNaN(when) ? day : when.toLocaleDateString([], { weekday: "long", month: "long", day: "numeric", year: "numeric" });
        bubble.before(sep);
        last = day;
      }
    });
  }

  // Server-rendered times in the reader's own clock, and a separator before each new day.
  function dress(root) {
    localTimes(root);
    daySeparators();
  }

  function nearBottom(box) {
    return box.scrollHeight - box.scrollTop - box.clientHeight < 80;
  }

  function scrollToBottom() {
    const box = document.getElementById("messages");
    if (box) box.scrollTop = box.scrollHeight;
  }

  function markCurrent() {
    const current = openId();
    document.querySelectorAll("#conversation-list a.conv-link").forEach(function (link) {
      const row = link.closest("li");
      if (row && row.dataset.id === current) link.setAttribute("aria-current", "true");
      else link.removeAttribute("aria-current");
    });
  }

  function filterQuery() {
    const form = document.getElementById("inbox-filters");
    return form ? new URLSearchParams(new FormData(form)).toString() : "";
  }

  // Live updates -----------------------------------------------------------------------------------

  function placeRow(item) {
    const list = document.querySelector("#conversation-list ul.rows");
    if (!list) return;
    const row = fragment(item.html);
    const old = document.getElementById("row-" + item.id);
    if (old && newer(old, row)) return;  // a poll that started before the last change: keep what is shown
    if (old) old.remove();
    const rows = Array.from(list.querySelectorAll("li.row-item"));
    const before = rows.find(function (other) { return other.dataset.sort < item.sort; });
    if (before) {
      before.before(row);
    } else if (!list.querySelector("li.more")) {
      list.appendChild(row);  // the oldest row shown, and nothing older is waiting to be paged in
    } else {
      return;  // older than everything shown: paging brings it
    }
    if (item.id === openId()) row.querySelector("a").setAttribute("aria-current", "true");
  }

  // Rows and headers carry their conversation's updated_at (seconds.microseconds): an answer that
  // was computed before an action the agent just took must not undo what that action showed.
  function newer(shown, incoming) {
    return Number(shown.dataset.updated || 0) > Number(incoming.dataset.updated || 0);
  }

  function placeMessage(item) {
    const box = document.getElementById("messages");
    if (!box) return;
    const bubble = fragment(item.html);
    const old = document.getElementById("m-" + item.id);
    if (old) { old.replaceWith(bubble); return; }
    const later = Array.from(box.querySelectorAll("article.bubble")).find(function (other) {
      return other.dataset.created > item.created;
    });
    if (later) later.before(bubble); else box.appendChild(bubble);
  }

  function apply(data) {
    inbox.dataset.version = data.version || "";
    inbox.dataset.cursor = data.cursor;
    if (data.token) inbox.dataset.liveUrl = inbox.dataset.liveUrl.replace(/live\/[^/]+\/$/, "live/" + data.token + "/");
    const total = document.getElementById("unread-total");
    if (total) total.textContent = data.unread;
    (data.gone || []).forEach(function (id) {
      const row = document.getElementById("row-" + id);
      if (row) row.remove();
    });
    // Oldest first, so each lands above the ones placed before it.
    (data.rows || []).slice().reverse().forEach(placeRow);
    const box = document.getElementById("messages");
    const stick = box && nearBottom(box);
    (data.messages || []).forEach(placeMessage);
    if (data.head) {
      const head = document.getElementById("thread-head");
      const incoming = fragment(data.head);
      if (head && !newer(head, incoming) && head.dataset.conversation === incoming.dataset.conversation) {
        head.replaceWith(incoming);
        htmx.process(document.getElementById("thread-head"));
      }
    }
    if (data.verdict) {
      const verdict = document.getElementById("verdict");
      if (verdict) verdict.replaceWith(fragment(data.verdict));
    }
    if ((data.rows || []).length) htmx.process(document.getElementById("conversation-list"));
    dress(box);
    if (stick && (data.messages || []).length) scrollToBottom();
  }

  let polling = false;
  async function poll() {
    if (polling) return;
    polling = true;
    try {
      // First the quiet path: one Redis read on the server while nothing has changed.
      // The view and the open conversation say which change counters this tab watches.
      const quiet = new URLSearchParams({
        v: inbox.dataset.version || "", cursor: inbox.dataset.cursor || "",
        view: new URLSearchParams(filterQuery()).get("view") || "", c: openId() || "",
      });
      const probe = await fetch(inbox.dataset.liveUrl + "?" + quiet.toString(), { credentials: "omit" });
      if (probe.status === 204) return;
      const params = new URLSearchParams(filterQuery());
      params.set("v", inbox.dataset.version || "");
      params.set("cursor", inbox.dataset.cursor || "");
      if (openId()) params.set("c", openId());
      const response = await fetch(inbox.dataset.pollUrl + "?" + params.toString(), {
        headers: { "Accept": "application/json" }, credentials: "same-origin",
      });
      if (response.status === 200) apply(await response.json());
      else if (response.status === 403 || response.status === 404) window.location.reload();  // logged out, or removed
    } catch (err) {
      // Offline or the server restarting: the next poll tries again.
    } finally {
      polling = false;
      window.setTimeout(poll, document.hidden ? POLL_HIDDEN_MS : POLL_VISIBLE_MS);
    }
  }
  window.setTimeout(poll, POLL_VISIBLE_MS);
  document.addEventListener("visibilitychange", function () { if (!document.hidden) poll(); });

  // htmx glue --------------------------------------------------------------------------------------

  document.body.addEventListener("htmx:afterSwap", function (event) {
    const target = event.detail.target;
    if (target.id === "thread-pane") {
      inbox.dataset.open = openId();
      const url = new URL(window.location.href);
      url.searchParams.set("c", openId());
      window.history.replaceState({}, "", url);
      markCurrent();
      dress(target);
      scrollToBottom();
      watchOlder();
      const row = document.getElementById("row-" + openId());
      if (row) {
        row.classList.remove("unread");
        const badge = row.querySelector(".unread-badge");
        if (badge) badge.remove();
      }
    } else if (target.id === "conversation-list" || target.closest && target.closest("#conversation-list")) {
      markCurrent();
    }
  });

  // A reply was accepted (201 with its bubble). The live poll may have brought the same message
  // already (it can answer before this response lands): place it by id, never twice.
  document.body.addEventListener("htmx:afterRequest", function (event) {
    const composer = document.getElementById("composer");
    const template = document.getElementById("template-send");
    if (template && event.detail.elt === template && event.detail.successful) {
      // A template was sent (201 with its bubble): place it, close the picker.
      const sent = fragment(event.detail.xhr.responseText);
      if (sent && !document.getElementById(sent.id)) {
        placeMessage({ id: sent.id.slice(2), html: event.detail.xhr.responseText, created: sent.dataset.created });
      }
      document.getElementById("template-form").textContent = "";
      document.getElementById("template-error").textContent = "";
      document.getElementById("template-choice").value = "";
      dress(document.getElementById("messages"));
      scrollToBottom();
      return;
    }
    if (event.detail.elt !== composer || !event.detail.successful) return;
    const bubble = fragment(event.detail.xhr.responseText);
    if (bubble && !document.getElementById(bubble.id)) {
      placeMessage({ id: bubble.id.slice(2), html: event.detail.xhr.responseText, created: bubble.dataset.created });
    }
    composer.reset();
    countSegments();
    document.getElementById("composer-error").textContent = "";
    const box = document.getElementById("messages");
    dress(box);
    scrollToBottom();
  });

  // After the list is replaced (new filters), keep the URL in step so a reload shows the same view.
  document.body.addEventListener("htmx:afterSettle", function (event) {
    if (event.detail.target && event.detail.target.id === "conversation-list") {
      const url = new URL(inbox.dataset.inboxUrl, window.location.origin);
      url.search = filterQuery();
      if (openId()) url.searchParams.set("c", openId());
      window.history.replaceState({}, "", url);
      markCurrent();
    }
  });

  // A refused action answers 400 with a sentence: show it next to what was tried.
  document.body.addEventListener("htmx:responseError", function (event) {
    const source = event.detail.elt;
    const scope = source.closest("#composer") || source.closest("#template-picker") || source.closest("#thread-head") || source.closest("#contact-orders") || document;
    const box = scope.querySelector("[role=alert]");
    // 400: refused, with the reason; 409: changed by someone else meanwhile; 413: too large to send
    // (said before the body was read).
    const status = event.detail.xhr.status;
    const text = status === 400 || status === 409 || status === 413 ? event.detail.xhr.responseText : "Something went wrong; try again.";
    if (box) box.textContent = text; else window.alert(text);
  });

  // Older messages: load when the top of the thread comes into view, keeping the reader's place.
  let observer = null;
  function watchOlder() {
    if (observer) observer.disconnect();
    const sentinel = document.getElementById("older-sentinel");
    const box = document.getElementById("messages");
    if (!sentinel || !box || !("IntersectionObserver" in window)) return;
    observer = new IntersectionObserver(function (entries) {
      if (entries.some(function (e) { return e.isIntersecting; })) {
        const button = sentinel.querySelector("button");
        if (button && !button.disabled) { button.disabled = true; htmx.trigger(button, "click"); }
      }
    }, { root: box });
    observer.observe(sentinel);
  }
  document.body.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "older-sentinel") {
      const box = document.getElementById("messages");
      box.dataset.keep = String(box.scrollHeight - box.scrollTop);
    }
  });
  document.body.addEventListener("htmx:afterSettle", function (event) {
    const box = document.getElementById("messages");
    if (box && box.dataset.keep) {
      box.scrollTop = box.scrollHeight - Number(box.dataset.keep);
      delete box.dataset.keep;
      dress(box);
      watchOlder();
    }
  });

  // Composer -----------------------------------------------------------------------------------------

  const GSM = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
  const GSM_EXT = "^{}\\[~]|€";

  // Same rules as messaging.services.outbound.segments: 160 GSM-7 characters (153 per part when
  // split), or 70 UCS-2 code units (67 per part).
  function segmentsOf(text) {
    let gsm = true;
    let septets = 0;
    for (const ch of text) {
      if (GSM_EXT.includes(ch)) septets += 2;
      else if (GSM.includes(ch)) septets += 1;
      else { gsm = false; break; }
    }
    const length = gsm ? septets : text.length;  // JS strings are UTF-16: length counts code units
    const single = gsm ? 160 : 70;
    const multi = gsm ? 153 : 67;
    return { parts: length <= single ? 1 : Math.ceil(length / multi), length: length, encoding: gsm ? "GSM-7" : "UCS-2" };
  }

  function countSegments() {
    const body = document.getElementById("composer-body");
    const out = document.getElementById("segments");
    const composer = document.getElementById("composer");
    if (!body || !out) return;
    if (!body.value || composer.dataset.channel === "whatsapp") { out.textContent = ""; return; }
    const s = segmentsOf(body.value);
    out.textContent = s.length + " characters · " + s.parts + " SMS segment" + (s.parts === 1 ? "" : "s") + " (" + s.encoding + ")";
  }

  function cannedMatches(body) {
    const list = document.getElementById("canned-suggestions");
    if (!list) return [];
    const match = /^\/([\w-]*)$/.exec(body.value);
    const items = Array.from(list.querySelectorAll("li"));
    items.forEach(function (li) { li.hidden = !match || !li.dataset.shortcut.startsWith(match[1].toLowerCase()); });
    const shown = items.filter(function (li) { return !li.hidden; });
    list.hidden = !match || shown.length === 0;
    return list.hidden ? [] : shown;
  }

  function useCanned(li) {
    const body = document.getElementById("composer-body");
    body.value = li.dataset.body;
    document.getElementById("canned-suggestions").hidden = true;
    body.focus();
    countSegments();
  }

  document.addEventListener("input", function (event) {
    if (event.target.id === "composer-body") { countSegments(); cannedMatches(event.target); }
  });
  // An attachment over the size limit: say so and drop it, rather than upload it to hear 413.
  document.addEventListener("change", function (event) {
    if (event.target.id !== "composer-file") return;
    const composer = document.getElementById("composer");
    const file = event.target.files[0];
    const limit = Number(composer.dataset.maxBytes || 0);
    if (file && limit && file.size > limit) {
      event.target.value = "";
      document.getElementById("composer-error").textContent = composer.dataset.tooLarge;
    }
  });
  // An attachment on a line that cannot send MMS: say so before the agent presses Send.
  document.addEventListener("change", function (event) {
    if (event.target.id !== "composer-file") return;
    const composer = document.getElementById("composer");
    const verdict = document.getElementById("verdict");
    const refusal = composer.dataset.mediaRefusal;
    if (!refusal || !verdict) return;
    const attached = event.target.files.length > 0;
    verdict.textContent = attached ? refusal : "";
    verdict.classList.toggle("refused", attached);
  });
  document.addEventListener("click", function (event) {
    const li = event.target.closest("#canned-suggestions li");
    if (li) useCanned(li);
  });
  // Suggested replies (search by meaning): a click, or the suggestion's number key, puts its text in
  // the reply box for the agent to edit and send; nothing is sent by itself.
  function useSuggestion(button) {
    const body = document.getElementById("composer-body");
    if (!body || !button) return;
    body.value = button.dataset.suggestion;
    body.focus();
    countSegments();
  }
  document.addEventListener("click", function (event) {
    const button = event.target.closest("#reply-suggestions button.suggestion");
    if (button) useSuggestion(button);
  });
  document.addEventListener("keydown", function (event) {
    if (event.target.id !== "composer-body") return;
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      const shown = cannedMatches(event.target);
      if (shown.length) { useCanned(shown[0]); return; }
      if (event.target.value.trim() || document.getElementById("composer-file").files.length) {
        htmx.trigger(document.getElementById("composer"), "submit");
      }
    } else if (event.key === "Tab") {
      const shown = cannedMatches(event.target);
      if (shown.length) { event.preventDefault(); useCanned(shown[0]); }
    } else if (event.key === "Escape") {
      event.target.blur();
    }
  });

  // Keyboard -----------------------------------------------------------------------------------------

  function moveSelection(step) {
    const rows = Array.from(document.querySelectorAll("#conversation-list li.row-item"));
    if (!rows.length) return;
    const index = rows.findIndex(function (row) { return row.dataset.id === openId(); });
    const next = rows[Math.min(rows.length - 1, Math.max(0, index === -1 ? 0 : index + step))];
    const link = next.querySelector("a.conv-link");
    link.focus();
    link.click();
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    const submit = function (id) {
      const form = document.getElementById(id);
      const button = form && form.querySelector("button");
      if (!button || button.disabled) return;
      // htmx wires up swapped content when it settles, a moment after it shows: a key pressed in
      // between would find the form not yet listening. Processing it again later changes nothing.
      htmx.process(form);
      htmx.trigger(form, "submit");
    };
    switch (event.key) {
      case "j": moveSelection(1); break;
      case "k": moveSelection(-1); break;
      case "r": { const body = document.getElementById("composer-body"); if (body) { event.preventDefault(); body.focus(); } break; }
      case "e": submit("done-form"); break;
      case "a": submit("assign-me-form"); break;
      case "/": event.preventDefault(); document.getElementById("inbox-search").focus(); break;
      case "1": case "2": case "3": {
        const button = document.querySelector('#reply-suggestions button.suggestion[data-key="' + event.key + '"]');
        if (!button) return;
        event.preventDefault();
        useSuggestion(button);
        break;
      }
      default: return;
    }
  });

  // The first page ------------------------------------------------------------------------------------
  dress(document);
  scrollToBottom();
  watchOlder();
})();
