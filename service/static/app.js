// The nutgraf page: POST the article to /v1/summaries, poll the job, show the summary and,
// for each of its sentences, where the article says it. "Check my summary" POSTs the article
// and a pasted summary to /v1/checks and shows the same, with each sentence's problems.
// Plain DOM, no dependencies; every value from the API and every character of the article
// goes in as text, never as HTML.
"use strict";

(() => {
  const POLL_MS = 1000;
  const MAX_POLL_FAILURES = 10; // consecutive; a Redis restart or a deploy is a few seconds
  const KEY_STORAGE = "nutgraf.apiKey";
  const FINAL = new Set(["succeeded", "failed", "cancelled", "checked"]);
  const LABELS = {
    sending: "sending",
    queued: "queued",
    running: "running",
    succeeded: "succeeded",
    failed: "failed",
    cancelled: "cancelled",
    checked: "checked",
    error: "error",
  };

  const $ = (id) => document.getElementById(id);
  const form = $("form");
  const text = $("text");
  const title = $("title");
  const length = $("length");
  const format = $("format");
  const mode = $("mode");
  const apiKey = $("api-key");
  const submit = $("submit");
  const checkButton = $("check");
  const checkSummary = $("check-summary");
  const resultHeading = $("result-heading");
  const file = $("file");
  const count = $("count");
  const result = $("result");
  const progress = $("progress");
  const status = $("status");
  const error = $("error");
  const summary = $("summary");
  const summaryHint = $("summary-hint");
  const fallback = $("fallback");
  const modelNote = $("model-note");
  const source = $("source");
  const articleView = $("article");
  const checks = $("checks");
  const meta = $("meta");
  const maxChars = Number(form.dataset.maxChars) || 100000;
  // Why the model's summary was replaced, in the words of JobChecks.fallback_reason.
  const FALLBACK_REASONS = {
    unsupported: "it stated names or numbers the article does not",
    meta_talk: "it talked about the task instead of summarizing the article",
    off_topic: "it used few of the article's words",
    reversed: "it said the opposite of what the article says",
    length: "it was not the length asked for",
    empty: "it was empty",
  };
  // A sentence's problems, in the words of CheckBody (POST /v1/checks).
  const PROBLEMS = {
    unsupported: "not in the article",
    reversed: "says the opposite of the article",
    meta_talk: "talks about the text",
    off_topic: "not the article's words",
  };
  // The same, for the list under the summary: "some sentences ...".
  const SENTENCES_THAT = {
    unsupported: "state names or numbers the article does not",
    reversed: "say the opposite of what the article says",
    meta_talk: "talk about the text instead of the news",
    off_topic: "use few of the article's words",
  };

  let busy = false;
  let state = "";
  let place = null; // a queued job's {lane, position, eta_s}
  let startedAt = 0;
  let ticker = 0;
  let submitted = ""; // the article as sent: provenance offsets point into it
  let bundled = new Set(); // names of the small bundled models, from GET /v1/models

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
    // While queued: where the job stands in its lane, and the lane's estimate.
    let where = "";
    if (state === "queued" && place) {
      where = ` · #${place.position} in the ${place.lane} lane`;
      if (place.eta_s !== null && place.eta_s !== undefined) {
        where += ` · about ${Math.max(1, Math.round(place.eta_s))} s`;
      }
    }
    status.textContent = `${LABELS[state] || state}${where} · ${seconds} s`;
  }

  function clearResult() {
    for (const node of [error, fallback, summary, checks, meta, articleView]) {
      node.replaceChildren();
    }
    error.hidden = fallback.hidden = checks.hidden = meta.hidden = true;
    summaryHint.hidden = source.hidden = true;
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
    const bullets = Array.isArray(job.bullets) && job.bullets.length > 0;
    if (!Array.isArray(job.provenance) || !job.provenance.length) {
      if (bullets) {
        const list = el("ul");
        for (const item of job.bullets) list.append(el("li", item));
        summary.replaceChildren(list);
      } else {
        summary.replaceChildren(el("p", job.summary || ""));
      }
      return;
    }
    const spans = job.provenance.map((sentence) => locate(sentence.support || []));
    const container = el(bullets ? "ul" : "p");
    job.provenance.forEach((sentence, index) => {
      const item = el("span", sentence.text, "sentence");
      item.tabIndex = 0;
      item.dataset.index = String(index);
      const parts = [item];
      const flags = [];
      if (!spans[index].length) {
        item.classList.add("unsupported");
        flags.push(el("span", "not found in the article", "flag"));
      }
      // Checked summaries (POST /v1/checks) say what is wrong with each sentence.
      for (const problem of Array.isArray(sentence.problems) ? sentence.problems : []) {
        item.classList.add("flagged");
        const words = Array.isArray(problem.words) ? problem.words.join(", ") : "";
        const said = PROBLEMS[problem.kind] || problem.kind;
        flags.push(el("span", words ? `${said}: ${words}` : said, `flag ${problem.kind}`));
      }
      flags.forEach((flag, n) => {
        flag.id = `flag-${index}-${n}`;
        parts.push(document.createTextNode(" "), flag);
      });
      if (flags.length) {
        item.setAttribute("aria-describedby", flags.map((flag) => flag.id).join(" "));
      }
      for (const activate of ["mouseenter", "focus", "click"]) {
        item.addEventListener(activate, () => highlight(item, spans[index]));
      }
      if (bullets) {
        const line = el("li");
        line.append(...parts);
        container.append(line);
      } else {
        if (index) container.append(document.createTextNode(" "));
        container.append(...parts);
      }
    });
    summary.replaceChildren(container);
    summaryHint.hidden = false;
    articleView.replaceChildren(document.createTextNode(submitted));
    articleView.scrollTop = 0;
    source.hidden = false;
  }

  // --- provenance: the article's supporting spans, highlighted in its rendered copy ---

  // Python counts offsets in code points, JS strings in UTF-16 units: an emoji is one of
  // the first and two of the second. A function from the first to the second for `text`.
  function unitIndex(text) {
    if (!/[\uD800-\uDFFF]/.test(text)) return (index) => index;
    const units = [0];
    let position = 0;
    for (const char of text) {
      position += char.length;
      units.push(position);
    }
    return (index) => units[Math.min(index, units.length - 1)];
  }

  // The spans as [start, end) in JS indexes of the submitted article. A span whose text is
  // not at its offsets (a cached result of a copy spaced differently) is looked up by its
  // text; one that cannot be found is left out rather than highlighting the wrong words.
  function locate(support) {
    const toUnit = unitIndex(submitted);
    const found = [];
    for (const span of support) {
      let start = toUnit(span.start);
      let end = toUnit(span.end);
      if (submitted.slice(start, end) !== span.text) {
        start = submitted.indexOf(span.text);
        if (start < 0) continue;
        end = start + span.text.length;
      }
      found.push([start, end]);
    }
    return found;
  }

  function clearMarks() {
    for (const mark of articleView.querySelectorAll("mark")) mark.replaceWith(...mark.childNodes);
    articleView.normalize(); // merge the split text nodes back, for the next offsets walk
  }

  // Wrap article characters [start, end) in <mark> elements, splitting text nodes there.
  function mark(start, end) {
    const walker = document.createTreeWalker(articleView, NodeFilter.SHOW_TEXT);
    const pieces = [];
    let offset = 0;
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const from = Math.max(start - offset, 0);
      const to = Math.min(end - offset, node.length);
      if (from < to) pieces.push([node, from, to]);
      offset += node.length;
      if (offset >= end) break;
    }
    const marks = [];
    for (const [node, from, to] of pieces) {
      const middle = from > 0 ? node.splitText(from) : node;
      if (to - from < middle.length) middle.splitText(to - from);
      const wrapper = el("mark");
      middle.replaceWith(wrapper);
      wrapper.append(middle);
      marks.push(wrapper);
    }
    return marks;
  }

  function highlight(item, spans) {
    for (const other of summary.querySelectorAll(".sentence.active")) {
      other.classList.remove("active");
    }
    item.classList.add("active");
    clearMarks();
    const marks = spans.flatMap(([start, end]) => mark(start, end));
    if (marks.length) {
      // Scroll the article box only, not the page: the sentence stays where the reader is.
      // The box is positioned, so a mark's offsetTop is measured from its top.
      articleView.scrollTop = Math.max(marks[0].offsetTop - articleView.clientHeight / 4, 0);
    }
  }

  function renderFallback(found) {
    if (!found || !found.fallback) return;
    const reason = found.fallback_reason;
    const why = FALLBACK_REASONS[reason] || (reason ? `reason: ${reason}` : "");
    fallback.replaceChildren(
      el(
        "p",
        "The model's summary failed its checks, so the article's own sentences are shown " +
          `instead${why ? ` (${why})` : ""}.`,
      ),
    );
    fallback.hidden = false;
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

  function renderProblems(body) {
    const kinds = Array.isArray(body.problems) ? body.problems : [];
    if (kinds.length) {
      checks.className = "warning";
      const list = el("ul");
      for (const kind of kinds) list.append(el("li", SENTENCES_THAT[kind] || kind));
      checks.replaceChildren(el("p", "Check before use: some sentences"), list);
    } else {
      checks.className = "ok";
      checks.replaceChildren(
        el(
          "p",
          "Checked: no unsupported names or numbers, reversed claims or talk about the text.",
        ),
      );
    }
    checks.hidden = false;
  }

  function renderMeta(job) {
    const rows = [];
    const model = job.model || {};
    if (model.name) {
      let line = model.revision ? `${model.name} (${model.revision})` : model.name;
      if (bundled.has(model.name)) line += " · the small bundled model";
      rows.push(["Model", line]);
    }
    rows.push(["Cached", job.cached ? "yes" : "no"]);
    const input = job.input || {};
    const parts = [`${number(input.characters)} characters`];
    // Extractive mode reads and writes no tokens (null, and 0 generated): nothing to show.
    const extractive = job.options && job.options.mode === "extractive";
    if (typeof input.tokens === "number") parts.push(`${number(input.tokens)} tokens`);
    if (input.chunks !== undefined) {
      parts.push(`${number(input.chunks)} chunk${input.chunks === 1 ? "" : "s"}`);
    }
    if (input.truncated) parts.push("truncated");
    rows.push(["Input", parts.join(" · ")]);
    if (job.output && job.output.tokens !== undefined && !extractive) {
      rows.push(["Output", `${number(job.output.tokens)} tokens`]);
    }
    meta.replaceChildren();
    for (const [name, value] of rows) meta.append(el("dt", name), el("dd", value));
    meta.hidden = false;
  }

  function render(job) {
    place = job.queue || null;
    setState(job.status);
    if (job.status === "succeeded") {
      renderFallback(job.checks);
      renderSummary(job);
      renderChecks(job.checks);
      renderMeta(job);
    } else if (job.status === "failed") {
      const detail = job.error || { code: "failed", message: "the job failed" };
      showError(detail.code, detail.message);
    } else if (job.status === "cancelled") {
      const detail = job.error || { code: "cancelled", message: "the job was cancelled" };
      showError(detail.code, detail.message);
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
    submit.disabled = checkButton.disabled = true;
    clearResult();
    resultHeading.textContent = "Summary";
    result.hidden = false;
    startedAt = performance.now();
    setState("sending");
    ticker = setInterval(renderStatus, 250);
    submitted = text.value;
    const payload = {
      text: submitted,
      length: length.value,
      format: format.value,
      mode: mode.value,
    };
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
      submit.disabled = checkButton.disabled = false;
    }
  });

  // --- checking a summary someone else wrote ---

  checkButton.addEventListener("click", async () => {
    if (busy) return;
    busy = true;
    submit.disabled = checkButton.disabled = true;
    clearResult();
    resultHeading.textContent = "Your summary, checked";
    result.hidden = false;
    startedAt = performance.now();
    place = null;
    setState("sending");
    submitted = text.value;
    const payload = { text: submitted, summary: checkSummary.value };
    if (title.value.trim()) payload.title = title.value.trim();
    try {
      const body = await call("/v1/checks", {
        method: "POST",
        headers: headers({ "Content-Type": "application/json" }),
        body: JSON.stringify(payload),
      });
      setState("checked");
      renderSummary({ provenance: Array.isArray(body.sentences) ? body.sentences : [] });
      renderProblems(body);
    } catch (err) {
      setState("error");
      showError(err.code || "error", err.message, err.httpStatus);
    } finally {
      renderStatus();
      busy = false;
      submit.disabled = checkButton.disabled = false;
    }
  });

  // --- the served model: say so when it is the small bundled one ---

  async function loadModels() {
    let listing;
    try {
      listing = await call("/v1/models", { headers: headers() });
    } catch (_) {
      return; // a key may be needed first; the page works without the notice
    }
    const models = Array.isArray(listing.models) ? listing.models : [];
    bundled = new Set(models.filter((m) => m.bundled).map((m) => m.name));
    const chosen = models.find((m) => m.default);
    modelNote.hidden = !(chosen && chosen.bundled);
    if (chosen && chosen.bundled) {
      modelNote.textContent =
        `This service runs the small bundled model (${chosen.name}). Its summaries show that ` +
        "the service works, not what a production model writes: check every sentence " +
        "against the article, or choose extractive mode.";
    }
  }
  apiKey.addEventListener("change", loadModels);

  updateCount();
  loadModels();
})();
