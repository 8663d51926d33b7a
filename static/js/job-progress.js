// Polls a background job's progress (the JSON API, with the page's session) until it finishes.
(function () {
  "use strict";
  const box = document.querySelector("[data-progress-url]");
  if (!box) return;
  const url = box.dataset.progressUrl;
  const bar = box.querySelector("progress");
  const errors = box.querySelector(".job-errors");

  function show(job) {
    bar.value = job.percent;
    bar.textContent = job.percent + "%";
    const labels = { queued: "Queued", running: "Running", done: "Done", failed: "Failed" };
    box.querySelector('[data-field="status"]').textContent = labels[job.status] || job.status;
    box.querySelector('[data-field="done"]').textContent = job.done;
    box.querySelector('[data-field="total"]').textContent = job.total === null ? "?" : job.total;
    box.querySelector('[data-field="percent"]').textContent = job.percent;
    box.querySelector('[data-field="created"]').textContent = job.created;
    errors.replaceChildren(...job.errors.slice(0, 20).map((e) => {
      const li = document.createElement("li");
      li.textContent = (e.item ? e.item + ": " : "") + e.error; // text, never HTML
      return li;
    }));
  }

  async function poll() {
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (response.ok) {
        const job = await response.json();
        show(job);
        if (job.status === "done" || job.status === "failed") return;
      }
    } catch (err) {
      // The network blinked: keep polling.
    }
    setTimeout(poll, 1000);
  }
  poll();
})();
