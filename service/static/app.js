// The nutgraf page: POST the article to /v1/summaries, poll the job, show the summary.
// Plain DOM, no dependencies; every value from the API goes in as text, never as HTML.
"use strict";

(() => {
  const POLL_MS = 1000;
  const MAX_POLL_FAILURES = 10; // consecutive; a Redis restart or a deploy is a few seconds
  const KEY_STORAGE = "nutgraf.apiKey";
  const FINAL = new Set(["succeeded", "failed", "cancelled"]);
  const LABELS = {
    sending: "sending",
    queued: "queued",
    running: "running",
    succeeded: "succeeded",
    failed: "failed",
    cancelled: "cancelled",
    error: "error",
  };

  const $ = (id) => document.getElementById(id);
  const form = $("form");
  const text = $("text");
  const title = $("title");
  const length = $("length");
  const format = $("format");
  const apiKey = $("api-key");
  const submit = $("submit");
  const file = $("file");
  const count = $("count");
  const result = $("result");
  const progress = $("progress");
  const status = $("status");
  const error = $("error");
  const summary = $("summary");
  const checks = $("checks");
  const meta = $("meta");
  const maxChars = Number(form.dataset.maxChars) || 100000;

  let busy = false;
  let state = "";
  let startedAt = 0;
  let ticker = 0;

  class ApiError extends Error {
    constructor(code, message, httpStatus) {
      super(message);
      this.code = code;
      this.httpStatus = httpStatus || 0;
    }
  }

  const el = (tag, content, className) => {
    const node = document.createElement(tag);
    if (content !== undefined) node.textContent = content;
    if (className) node.className = className;
    return node;
  };
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const number = (n) => (typeof n === "number" ? n.toLocaleString("en") : "?");

  // --- API key: optional, remembered in this browser (storage may be disabled) ---

  try {
    apiKey.value = localStorage.getItem(KEY_STORAGE) || "";
  } catch (_) {
    /* no storage: the field still works for this page */
  }
  apiKey.addEventListener("change", () => {
    try {
      const key = apiKey.value.trim();
      if (key) localStorage.setItem(KEY_STORAGE, key);
      else localStorage.removeItem(KEY_STORAGE);
    } catch (_) {
      /* as above */
    }
  });

  const headers = (extra) => {
    const all = { Accept: "application/json", ...extra };
    const key = apiKey.value.trim();
    if (key) all.Authorization = `Bearer ${key}`;
    return all;
  };

  // One API call: the JSON body, or an ApiError built from the contract's error body.
  async function call(url, options) {
    let response;
    try {
      response = await fetch(url, { ...options, cache: "no-store" });
    } catch (err) {
      throw new ApiError("network_error", `could not reach the service (${err.message})`);
    }
    let body = null;
    try {
      body = await response.json();
    } catch (_) {
      body = null;
    }
    if (!response.ok) {
      const detail = body && body.error;
      if (detail && detail.message) {
        throw new ApiError(detail.code || "error", detail.message, response.status);
      }
      const line = `the service answered ${response.status} ${response.statusText}`.trim();
      throw new ApiError(`http_${response.status}`, line, response.status);
    }
    if (!body || typeof body !== "object") {
      throw new ApiError("invalid_response", "the service answered something that is not JSON");
    }
    return body;
  }

  // --- what the page shows ---

  function setState(next) {
    state = next;
    status.dataset.status = next;
    const running = !FINAL.has(next) && next !== "error";
    progress.hidden = !running && next !== "succeeded";
    if (running) progress.removeAttribute("value"); // indeterminate: no reliable percentage
    else progress.value = progress.max;
    renderStatus();
  }

  function renderStatus() {
    const seconds = Math.round((performance.now() - startedAt) / 1000);
    status.textContent = `${LABELS[state] || state} · ${seconds} s`;
  }

  function clearResult() {
    for (const node of [error, summary, checks, meta]) node.replaceChildren();
    error.hidden = checks.hidden = meta.hidden = true;
  }

  function showError(code, message, httpStatus) {
    result.hidden = false;
    const head = httpStatus ? `Error ${httpStatus} (${code})` : `Error (${code})`;
    error.replaceChildren(el("strong", `${head}: `), document.createTextNode(message));
    if (httpStatus === 401) {
      error.append(el("p", "Enter a valid API key above and try again."));
    }
    error.hidden = false;
  }

  function renderSummary(job) {
    if (Array.isArray(job.bullets) && job.bullets.length) {
      const list = el("ul");
      for (const item of job.bullets) list.append(el("li", item));
      summary.replaceChildren(list);
    } else {
      summary.replaceChildren(el("p", job.summary || ""));
    }
  }

  function renderChecks(found) {
    if (!found) return;
    const unsupported = Array.isArray(found.unsupported) ? found.unsupported : [];
    if (unsupported.length) {
      checks.className = "warning";
      const list = el("ul");
      for (const item of unsupported) list.append(el("li", item));
      checks.replaceChildren(
        el("p", "Check before use: the summary states things not found in the article:"),
        list,
      );
    } else {
      checks.className = "ok";
      checks.replaceChildren(el("p", "Checked: no unsupported names or numbers found."));
    }
    if (found.regenerated) {
      checks.append(el("p", "Regenerated once with safer decoding (strict mode).", "hint"));
    }
    checks.hidden = false;
  }

  function renderMeta(job) {
    const rows = [];
    const model = job.model || {};
    if (model.name) {
      rows.push(["Model", model.revision ? `${model.name} (${model.revision})` : model.name]);
    }
    rows.push(["Cached", job.cached ? "yes" : "no"]);
    const input = job.input || {};
    const parts = [`${number(input.characters)} characters`];
    if (input.tokens !== undefined) parts.push(`${number(input.tokens)} tokens`);
    if (input.chunks !== undefined) {
      parts.push(`${number(input.chunks)} chunk${input.chunks === 1 ? "" : "s"}`);
    }
    if (input.truncated) parts.push("truncated");
    rows.push(["Input", parts.join(" · ")]);
    if (job.output && job.output.tokens !== undefined) {
      rows.push(["Output", `${number(job.output.tokens)} tokens`]);
    }
    meta.replaceChildren();
    for (const [name, value] of rows) meta.append(el("dt", name), el("dd", value));
    meta.hidden = false;
  }

  function render(job) {
    setState(job.status);
    if (job.status === "succeeded") {
      renderSummary(job);
      renderChecks(job.checks);
      renderMeta(job);
    } else if (job.status === "failed") {
      const detail = job.error || { code: "failed", message: "the job failed" };
      showError(detail.code, detail.message);
    } else if (job.status === "cancelled") {
      showError("cancelled", "the job was cancelled before it ran");
    }
  }

  async function poll(id) {
    let failures = 0;
    for (;;) {
      await sleep(POLL_MS);
      let job;
      try {
        job = await call(`/v1/summaries/${encodeURIComponent(id)}`, { headers: headers() });
      } catch (err) {
        // Outages are retried; an answer that will not change (404, 401) is final.
        const transient = !err.httpStatus || err.httpStatus === 429 || err.httpStatus >= 500;
        if (!transient || ++failures >= MAX_POLL_FAILURES) throw err;
        continue;
      }
      failures = 0;
      render(job);
      if (FINAL.has(job.status)) return;
    }
  }

  // --- input: typing, dropping or opening a text file ---

  const updateCount = () => {
    count.textContent = number(text.value.length);
    count.classList.toggle("over", text.value.length > maxChars);
  };
  text.addEventListener("input", updateCount);

  async function readFile(picked) {
    if (!picked) return;
    const isText = picked.type.startsWith("text/") || /\.(txt|text|md)$/i.test(picked.name);
    if (!isText) {
      showError("unsupported_file", `${picked.name} is not a plain-text file; drop a .txt file`);
      return;
    }
    if (picked.size > maxChars * 4) {
      showError("text_too_long", `${picked.name} is larger than this service accepts`);
      return;
    }
    text.value = await picked.text();
    updateCount();
    error.hidden = true;
    text.focus();
  }

  file.addEventListener("change", () => {
    readFile(file.files[0]);
    file.value = ""; // the same file can be opened again
  });
  document.addEventListener("dragover", (event) => {
    event.preventDefault(); // without it the browser opens the file instead of dropping it
    document.body.classList.add("dragging");
  });
  document.addEventListener("dragleave", (event) => {
    if (!event.relatedTarget) document.body.classList.remove("dragging");
  });
  document.addEventListener("drop", (event) => {
    event.preventDefault();
    document.body.classList.remove("dragging");
    const data = event.dataTransfer;
    if (data && data.files.length) {
      readFile(data.files[0]);
    } else if (data && data.getData("text/plain")) {
      text.value = data.getData("text/plain");
      updateCount();
    }
  });
  text.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) form.requestSubmit();
  });

  // --- submitting ---

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (busy) return;
    busy = true;
    submit.disabled = true;
    clearResult();
    result.hidden = false;
    startedAt = performance.now();
    setState("sending");
    ticker = setInterval(renderStatus, 250);
    const payload = { text: text.value, length: length.value, format: format.value };
    if (title.value.trim()) payload.title = title.value.trim();
    try {
      const job = await call("/v1/summaries", {
        method: "POST",
        // The server may hold the answer up to 2 s, saving a poll for quick jobs.
        headers: headers({ "Content-Type": "application/json", Prefer: "wait=2" }),
        body: JSON.stringify(payload),
      });
      render(job);
      if (!FINAL.has(job.status)) await poll(job.id);
    } catch (err) {
      setState("error");
      showError(err.code || "error", err.message, err.httpStatus);
    } finally {
      clearInterval(ticker);
      renderStatus();
      busy = false;
      submit.disabled = false;
    }
  });

  updateCount();
})();
