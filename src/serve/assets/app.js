// weaksignal workbench UI: plain ES2020, no framework, no build step.
//
// Security rule of this file: every string that comes from the API is untrusted
// scraped text. It only ever reaches the page through textContent, text nodes
// or setAttribute on harmless attributes. Nothing here uses innerHTML,
// insertAdjacentHTML or document.write. Search snippets (server-escaped, with
// <b> marks) are parsed by renderSnippet(). External links are only made for
// http(s) URLs (safeHttpUrl()).
"use strict";

(() => {
  const SVG_NS = "http://www.w3.org/2000/svg";
  const CLASS_ORDER = ["weak", "emerging", "strong", "fading"];
  const CLASS_TEXT = {
    weak: "Weak signals",
    emerging: "Emerging",
    recurring: "Recurring",
    strong: "Strong",
    fading: "Fading",
  };
  const CLASS_HELP = {
    weak: "small but growing fast",
    emerging: "growing and becoming visible",
    recurring: "rose in the same weeks of an earlier year: a season",
    strong: "visible and still growing",
    fading: "shrinking from an earlier level",
  };
  // Default `signals.strong_visibility` of config.toml: the vertical line of the map.
  const STRONG_VISIBILITY = 0.05;
  const SEARCH_LIMIT = 50;

  const main = document.getElementById("main");
  let renderSeq = 0; // increases per navigation; stale fetches are dropped
  let renderedSeq = -1; // the navigation whose content main shows

  // ---------------------------------------------------------------- DOM helpers

  // el("a", {href: "#/x", class: "c"}, "text", child...) – children are nodes
  // or strings (strings become text nodes, never markup).
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    setAttrs(node, attrs);
    append(node, children);
    return node;
  }

  function svg(tag, attrs, ...children) {
    const node = document.createElementNS(SVG_NS, tag);
    setAttrs(node, attrs);
    append(node, children);
    return node;
  }

  function setAttrs(node, attrs) {
    if (!attrs) return;
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith("on") && typeof v === "function") {
        node.addEventListener(k.slice(2), v);
      } else if (k === "href" && !isSafeHref(String(v))) {
        // Never produce a script-capable href, whatever the caller passed.
        continue;
      } else {
        node.setAttribute(k, v === true ? "" : String(v));
      }
    }
  }

  function append(node, children) {
    for (const c of children.flat(Infinity)) {
      if (c === undefined || c === null || c === false) continue;
      node.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
    }
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  // Internal hrefs (#/...) and http(s) URLs only.
  function isSafeHref(href) {
    return href.startsWith("#") || safeHttpUrl(href) !== null;
  }

  // The URL if it is http:// or https:// (case-insensitive, after trimming), else null.
  function safeHttpUrl(url) {
    if (typeof url !== "string") return null;
    const u = url.trim();
    if (!/^https?:\/\//i.test(u)) return null;
    // Control characters and whitespace inside a URL are never legitimate here.
    if (/[\u0000-\u001f\u007f\s]/.test(u)) return null;
    return u;
  }

  function externalLink(url, text) {
    const u = safeHttpUrl(url);
    if (!u) return null;
    return el("a", { href: u, class: "ext", rel: "noopener noreferrer", target: "_blank" }, text || hostOf(u), " ↗");
  }

  function hostOf(u) {
    try {
      return new URL(u).host || u;
    } catch (_) {
      return u;
    }
  }

  // The snippet is server-escaped HTML whose only markup is <b>…</b>. Rebuild
  // it as text nodes and <b> elements; any other markup stays literal text.
  const ENTITIES = { "&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": '"', "&#x27;": "'", "&#39;": "'" };
  function decodeEntities(s) {
    return s.replace(/&(?:amp|lt|gt|quot|#x27|#39);/g, (m) => ENTITIES[m]);
  }

  function renderSnippet(snippet) {
    const frag = document.createDocumentFragment();
    if (typeof snippet !== "string") return frag;
    let bold = false;
    for (const part of snippet.split(/(<b>|<\/b>)/i)) {
      const tag = part.toLowerCase();
      if (tag === "<b>") {
        bold = true;
        continue;
      }
      if (tag === "</b>") {
        bold = false;
        continue;
      }
      if (!part) continue;
      const text = document.createTextNode(decodeEntities(part));
      frag.appendChild(bold ? el("b", null, text) : text);
    }
    return frag;
  }

  // ------------------------------------------------------------------ formatting

  const nf0 = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
  const nf2 = new Intl.NumberFormat("en-US", { maximumFractionDigits: 2 });

  function fmtInt(n) {
    return typeof n === "number" && isFinite(n) ? nf0.format(n) : "–";
  }
  function fmtNum(n) {
    return typeof n === "number" && isFinite(n) ? nf2.format(n) : "–";
  }
  function fmtPct(x) {
    if (typeof x !== "number" || !isFinite(x)) return "–";
    const p = x * 100;
    return (p > 0 && p < 0.1 ? p.toFixed(2) : p.toFixed(1)) + " %";
  }
  function fmtGrowth(g) {
    return typeof g === "number" && isFinite(g) ? g.toFixed(2) + "×" : "–";
  }
  // "2020-02-13T00:00:00Z" -> "2020-02-13"
  function fmtDate(s) {
    if (typeof s !== "string") return "";
    const m = /^(\d{4}-\d{2}-\d{2})/.exec(s);
    return m ? m[1] : s;
  }
  function str(x) {
    return x === undefined || x === null ? "" : String(x);
  }
  function arr(x) {
    return Array.isArray(x) ? x : [];
  }
  function truncate(s, n) {
    s = str(s);
    return s.length > n ? s.slice(0, n - 1) + "…" : s;
  }
  const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  function monthLabel(ym) {
    const m = /^(\d{4})-(\d{2})/.exec(str(ym));
    if (!m) return str(ym);
    return (MONTHS[Number(m[2]) - 1] || m[2]) + " " + m[1].slice(2);
  }

  // ------------------------------------------------------------------- routing

  function parseHash() {
    let h = location.hash || "";
    if (h.startsWith("#")) h = h.slice(1);
    const qi = h.indexOf("?");
    const path = qi >= 0 ? h.slice(0, qi) : h;
    const params = new URLSearchParams(qi >= 0 ? h.slice(qi + 1) : "");
    const parts = path.split("/").filter(Boolean).map((p) => {
      try {
        return decodeURIComponent(p);
      } catch (_) {
        return p;
      }
    });
    return { parts, params };
  }

  // "#/search?q=x&from=" without empty values.
  function hashFor(path, params) {
    const sp = new URLSearchParams();
    for (const [k, v] of Object.entries(params || {})) {
      if (v !== undefined && v !== null && String(v).trim() !== "") sp.set(k, String(v).trim());
    }
    const q = sp.toString();
    return "#" + path + (q ? "?" + q : "");
  }

  function go(hash) {
    if (location.hash === hash) {
      route();
    } else {
      setState("loading"); // at once, not only when hashchange arrives
      location.hash = hash;
    }
  }

  function topicHref(id, extra) {
    const n = str(id).replace(/^topic-/, "");
    return hashFor("/topics/" + encodeURIComponent(n), extra);
  }
  function docHref(id) {
    return "#/docs/" + encodeURIComponent(str(id));
  }
  // Where a signal opens: its topic page, or a search for a term signal.
  function signalHref(sig, extra) {
    const id = str(sig.id);
    if (id.startsWith("topic-")) return topicHref(id, extra);
    let term = id.startsWith("term-") ? id.slice(5) : str(sig.label);
    term = term.replace(/"/g, " ").trim();
    if (/\s/.test(term)) term = '"' + term + '"';
    return hashFor("/search", { q: term });
  }

  function setState(state) {
    document.body.dataset.state = state;
  }

  function setNav(name) {
    for (const a of document.querySelectorAll("[data-nav]")) {
      if (a.dataset.nav === name) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
  }

  function route() {
    const { parts, params } = parseHash();
    const seq = ++renderSeq;
    const page = parts[0] || "signals";
    setNav(page === "topics" ? "signals" : page === "docs" ? "" : page);
    setState("loading");
    let job;
    switch (page) {
      case "search":
        job = pageSearch(seq, params);
        break;
      case "signals":
        job = pageSignals(seq, params);
        break;
      case "topics":
        job = parts[1] ? pageTopic(seq, parts[1], params) : Promise.resolve(go("#/signals"));
        break;
      case "docs":
        job = pageDoc(seq, parts[1] || "");
        break;
      case "stats":
        job = pageStats(seq);
        break;
      case "watches":
        job = pageWatches(seq, params);
        break;
      default:
        job = Promise.reject(new Error("Unknown page: #/" + parts.join("/")));
    }
    Promise.resolve(job)
      .catch((err) => {
        if (seq !== renderSeq) return;
        // Do not leave the previous page under the error of this one.
        if (renderedSeq !== seq) render(seq, el("h1", null, "Something went wrong"));
        showError(err);
      })
      .finally(() => {
        if (seq === renderSeq) setState("ready");
      });
  }

  function showError(err) {
    const msg = err && err.message ? err.message : String(err);
    const box = el("div", { class: "error", role: "alert" }, el("strong", null, "Error: "), msg);
    const existing = main.querySelector(":scope > .error");
    if (existing) existing.replaceWith(box);
    else main.prepend(box);
  }

  // Replace the page content, unless a newer navigation has started.
  function render(seq, ...nodes) {
    if (seq !== renderSeq) return false;
    renderedSeq = seq;
    clear(main);
    append(main, nodes);
    return true;
  }

  // ------------------------------------------------------------------- API

  class ApiError extends Error {}

  // The server's token (serve.token) when it asks for one: asked once per
  // tab, kept in sessionStorage. Writes always need it.
  const TOKEN_KEY = "weaksignal-token";
  // After a 401 for a request sent with `sent`: whether to retry. Requests
  // in parallel all meet the 401; only the first asks, the others find the
  // token it stored.
  function askToken(why, sent) {
    if ((sessionStorage.getItem(TOKEN_KEY) || "") !== sent) return true;
    const token = window.prompt(why + " (serve.token in config.toml):");
    if (token) sessionStorage.setItem(TOKEN_KEY, token.trim());
    return !!token;
  }

  // `fetch` with the token, asked for (`why`) after a 401 and then retried
  // once; the response and its JSON body (null when it is not JSON).
  async function fetchWithToken(url, init, why) {
    let sent = "";
    const request = () => {
      const headers = Object.assign({ Accept: "application/json" }, init.headers);
      sent = sessionStorage.getItem(TOKEN_KEY) || "";
      if (sent) headers.Authorization = "Bearer " + sent;
      return fetch(url, Object.assign({}, init, { headers, credentials: "same-origin" }));
    };
    let resp;
    try {
      resp = await request();
      if (resp.status === 401 && askToken(why, sent)) resp = await request();
    } catch (e) {
      throw new ApiError("Could not reach the server (" + (e && e.message ? e.message : e) + ")");
    }
    let body = null;
    try {
      body = await resp.json();
    } catch (_) {
      body = null;
    }
    return { resp, body };
  }

  // The server's message (it names the field or parameter), or the status.
  function apiFailure(resp, body, what) {
    const reason = body && body.error ? String(body.error) : "HTTP " + resp.status + " " + resp.statusText;
    return new ApiError(reason + " (" + resp.status + ", " + what + ")");
  }

  // POST `body` as JSON to /api/`path`.
  async function apiWrite(path, body) {
    const init = { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
    const { resp, body: answer } = await fetchWithToken("/api/" + path, init, "Changes need the workbench's access token");
    if (!resp.ok) throw apiFailure(resp, answer, "POST /api/" + path);
    return answer;
  }

  // The analyst's name for marks and watches, remembered in this browser.
  const ANALYST_KEY = "weaksignal-analyst";
  function analystName() {
    return localStorage.getItem(ANALYST_KEY) || "";
  }
  function analystInput(id) {
    const input = el("input", { id, type: "text", value: analystName(), placeholder: "your name", autocomplete: "name", maxlength: "100" });
    input.addEventListener("change", () => localStorage.setItem(ANALYST_KEY, input.value.trim()));
    return input;
  }

  async function api(path, params) {
    const sp = new URLSearchParams();
    for (const [k, v] of Object.entries(params || {})) {
      if (v !== undefined && v !== null && String(v) !== "") sp.set(k, String(v));
    }
    const q = sp.toString();
    const url = "/api/" + path + (q ? "?" + q : "");
    // A server with serve.token wants it as a bearer token.
    const { resp, body } = await fetchWithToken(url, {}, "This workbench needs its access token");
    if (!resp.ok || (body && typeof body === "object" && !Array.isArray(body) && "error" in body && body.error)) {
      throw apiFailure(resp, body, "/api/" + path);
    }
    if (body === null || typeof body !== "object") throw new ApiError("The server did not answer JSON for /api/" + path);
    return body;
  }

  // ------------------------------------------------------------------- charts

  // Bar chart of [{label, value, title, onclick?}] into an <svg>.
  function barChart(items, opts) {
    const W = opts.width || 800;
    const H = opts.height || 160;
    const m = { top: 10, right: 8, bottom: 24, left: 40 };
    const iw = W - m.left - m.right;
    const ih = H - m.top - m.bottom;
    const max = Math.max(1, ...items.map((d) => d.value || 0));
    const root = svg("svg", {
      id: opts.id,
      class: "chart " + (opts.className || ""),
      viewBox: `0 0 ${W} ${H}`,
      role: "img",
      "aria-label": opts.label,
    });
    root.appendChild(svg("title", null, opts.label));
    // y grid: 0, max/2, max
    for (const f of [0, 0.5, 1]) {
      const y = m.top + ih - f * ih;
      const v = Math.round(max * f);
      root.appendChild(svg("line", { class: "grid", x1: m.left, x2: W - m.right, y1: y, y2: y }));
      root.appendChild(svg("text", { class: "axis", x: m.left - 6, y: y + 4, "text-anchor": "end" }, fmtInt(v)));
    }
    const n = Math.max(1, items.length);
    const step = iw / n;
    const bw = Math.max(1, step * 0.8);
    const labelEvery = Math.max(1, Math.ceil(n / (opts.maxLabels || 12)));
    items.forEach((d, i) => {
      const h = ((d.value || 0) / max) * ih;
      const x = m.left + i * step + (step - bw) / 2;
      const bar = svg(
        "rect",
        {
          class: "bar" + (d.onclick ? " clickable" : "") + (d.className ? " " + d.className : ""),
          x: x.toFixed(1),
          y: (m.top + ih - h).toFixed(1),
          width: bw.toFixed(1),
          height: Math.max(0, h).toFixed(1),
          tabindex: d.onclick ? "0" : null,
          role: d.onclick ? "button" : null,
          "aria-label": d.title,
        },
        svg("title", null, d.title)
      );
      if (d.onclick) {
        bar.addEventListener("click", d.onclick);
        bar.addEventListener("keydown", (e) => {
          if (e.key === "Enter" || e.key === " ") {
            e.preventDefault();
            d.onclick();
          }
        });
      }
      root.appendChild(bar);
      if (d.label && (i % labelEvery === 0 || d.forceLabel)) {
        root.appendChild(
          svg("text", { class: "axis", x: (m.left + i * step + step / 2).toFixed(1), y: H - 6, "text-anchor": "middle" }, d.label)
        );
      }
    });
    root.appendChild(svg("line", { class: "baseline", x1: m.left, x2: W - m.right, y1: m.top + ih, y2: m.top + ih }));
    return root;
  }

  function sparkline(timeline, cls) {
    const W = 120;
    const H = 28;
    const pts = arr(timeline).map((t) => (t && typeof t.docs === "number" ? t.docs : 0));
    const max = Math.max(1, ...pts);
    const n = Math.max(1, pts.length);
    const step = W / n;
    const root = svg("svg", {
      class: "sparkline cls-" + cls,
      viewBox: `0 0 ${W} ${H}`,
      width: W,
      height: H,
      role: "img",
      "aria-label": "Documents per window: " + pts.join(", "),
    });
    pts.forEach((v, i) => {
      const h = (v / max) * (H - 2);
      root.appendChild(
        svg("rect", {
          x: (i * step + step * 0.1).toFixed(1),
          y: (H - h).toFixed(1),
          width: Math.max(0.5, step * 0.8).toFixed(1),
          height: Math.max(v > 0 ? 1 : 0, h).toFixed(1),
        })
      );
    });
    root.appendChild(svg("line", { class: "baseline", x1: 0, x2: W, y1: H - 0.5, y2: H - 0.5 }));
    return root;
  }

  // The emergence map: x = visibility (log), y = growth (log), one point per signal.
  function emergenceMap(signals, extra) {
    const W = 900;
    const H = 500;
    const m = { top: 20, right: 24, bottom: 46, left: 58 };
    const iw = W - m.left - m.right;
    const ih = H - m.top - m.bottom;

    const pos = (x) => typeof x === "number" && isFinite(x) && x > 0;
    // A weak signal is small by its class (a handful of documents can be a
    // large share of a small window): it stays left of the visibility line,
    // so picture and class agree.
    const mapVis = (s) => (s.class === "weak" && pos(s.visibility) ? Math.min(s.visibility, STRONG_VISIBILITY / 1.15) : s.visibility);
    const vis = signals.map(mapVis).filter(pos);
    const gro = signals.map((s) => s.growth).filter(pos);
    const vMin = Math.min(STRONG_VISIBILITY / 10, ...vis) / 1.6;
    const vMax = Math.max(STRONG_VISIBILITY * 4, ...vis) * 1.6;
    const gMin = Math.min(0.25, ...gro) / 1.4;
    const gMax = Math.max(4, ...gro) * 1.4;
    const lx0 = Math.log10(vMin);
    const lx1 = Math.log10(vMax);
    const ly0 = Math.log2(gMin);
    const ly1 = Math.log2(gMax);
    // Zero or missing values sit on the low edge of the plot.
    const X = (v) => m.left + ((Math.log10(pos(v) ? Math.max(v, vMin) : vMin) - lx0) / (lx1 - lx0)) * iw;
    const Y = (g) => m.top + ih - ((Math.log2(pos(g) ? Math.max(g, gMin) : gMin) - ly0) / (ly1 - ly0)) * ih;

    const root = svg("svg", {
      id: "emergence-map",
      class: "chart map",
      viewBox: `0 0 ${W} ${H}`,
      role: "group",
      "aria-label": "Emergence map: visibility (x, log scale) against growth (y, log scale)",
    });
    root.appendChild(svg("title", null, "Emergence map"));

    // Quadrants.
    const qx = X(STRONG_VISIBILITY);
    const qy = Y(1);
    const quad = [
      ["weak", m.left, m.top, qx - m.left, qy - m.top, "weak signals", "low visibility · growing", "start", m.left + 8, m.top + 16],
      ["strong", qx, m.top, W - m.right - qx, qy - m.top, "strong signals", "visible · growing", "end", W - m.right - 8, m.top + 16],
      ["latent", m.left, qy, qx - m.left, m.top + ih - qy, "latent · fading", "low visibility · shrinking", "start", m.left + 8, m.top + ih - 22],
      ["cooling", qx, qy, W - m.right - qx, m.top + ih - qy, "established · cooling", "visible · shrinking", "end", W - m.right - 8, m.top + ih - 22],
    ];
    for (const [k, x, y, w, h, title, sub, anchor, tx, ty] of quad) {
      root.appendChild(svg("rect", { class: "quad quad-" + k, x, y, width: Math.max(0, w), height: Math.max(0, h) }));
      root.appendChild(svg("text", { class: "quad-label", x: tx, y: ty, "text-anchor": anchor }, title));
      root.appendChild(svg("text", { class: "quad-sub", x: tx, y: ty + 14, "text-anchor": anchor }, sub));
    }

    // Axes with ticks.
    const g = svg("g", { class: "axes" });
    for (let e = Math.ceil(lx0); e <= Math.floor(lx1); e++) {
      const v = Math.pow(10, e);
      const x = X(v);
      g.appendChild(svg("line", { class: "grid", x1: x, x2: x, y1: m.top, y2: m.top + ih }));
      g.appendChild(svg("text", { class: "axis", x, y: m.top + ih + 16, "text-anchor": "middle" }, fmtPct(v).replace(".0 %", " %")));
    }
    for (let e = Math.ceil(ly0); e <= Math.floor(ly1); e++) {
      const v = Math.pow(2, e);
      const y = Y(v);
      g.appendChild(svg("line", { class: "grid", x1: m.left, x2: W - m.right, y1: y, y2: y }));
      g.appendChild(svg("text", { class: "axis", x: m.left - 6, y: y + 4, "text-anchor": "end" }, (v < 1 ? v.toFixed(2).replace(/0+$/, "") : String(v)) + "×"));
    }
    g.appendChild(svg("line", { class: "quad-line", x1: qx, x2: qx, y1: m.top, y2: m.top + ih }));
    g.appendChild(svg("line", { class: "quad-line", x1: m.left, x2: W - m.right, y1: qy, y2: qy }));
    g.appendChild(svg("rect", { class: "frame", x: m.left, y: m.top, width: iw, height: ih }));
    g.appendChild(svg("text", { class: "axis-title", x: m.left + iw / 2, y: H - 8, "text-anchor": "middle" }, "visibility → (share of recent documents, log scale)"));
    g.appendChild(
      svg("text", { class: "axis-title", x: 14, y: m.top + ih / 2, "text-anchor": "middle", transform: `rotate(-90 14 ${m.top + ih / 2})` }, "growth → (recent / baseline, log scale)")
    );
    root.appendChild(g);

    // Points: larger first so small ones stay clickable on top.
    const placed = []; // label boxes already drawn, to avoid overlaps
    // Keep point labels off the quadrant titles.
    for (const [, , , , , title, sub, anchor, tx, ty] of quad) {
      const w = Math.max(title.length * 9, sub.length * 6.2);
      const x0 = anchor === "end" ? tx - w : tx;
      placed.push({ owner: null, x0, y0: ty - 13, x1: x0 + w, y1: ty + 18 });
    }
    const pointsLayer = svg("g", { class: "points" });
    const order = signals
      .map((s, i) => ({ s, i, r: 4 + Math.min(10, Math.sqrt(Math.max(0, Number(s.recent_docs) || 0)) * 1.6) }))
      .sort((a, b) => b.r - a.r);
    for (const { s, r } of order) {
      const x = X(mapVis(s));
      const y = Y(s.growth);
      placed.push({ owner: s, x0: x - r, y0: y - r, x1: x + r, y1: y + r });
    }

    // Label placement is greedy in score order (the API sorts by score).
    const labelFor = new Map();
    const byScore = order.slice().sort((a, b) => a.i - b.i);
    for (const { s, r } of byScore) {
      const cx = X(mapVis(s));
      const cy = Y(s.growth);
      const text = truncate(s.label || s.id, 26);
      const tw = text.length * 6.6 + 4;
      const th = 14;
      const cands = [
        [cx + r + 4, cy + 4, "start", cx + r + 2, cy - th / 2 - 1],
        [cx - r - 4, cy + 4, "end", cx - r - 4 - tw, cy - th / 2 - 1],
        [cx, cy - r - 5, "middle", cx - tw / 2, cy - r - 5 - th + 3],
        [cx, cy + r + 13, "middle", cx - tw / 2, cy + r + 2],
      ];
      for (const [tx, ty, anchor, bx, by] of cands) {
        const box = { x0: bx, y0: by, x1: bx + tw, y1: by + th };
        if (box.x0 < m.left || box.x1 > W - m.right || box.y0 < m.top || box.y1 > m.top + ih) continue;
        // Its own circle does not count.
        const hitsOther = placed.some((p) => p.owner !== s && !(box.x1 < p.x0 || box.x0 > p.x1 || box.y1 < p.y0 || box.y0 > p.y1));
        if (hitsOther) continue;
        placed.push(box);
        labelFor.set(s, { tx, ty, anchor, text });
        break;
      }
    }

    for (const { s, r } of order) {
      const cls = CLASS_ORDER.includes(s.class) ? s.class : "other";
      const href = signalHref(s, extra);
      const name = `${str(s.label) || str(s.id)} (${str(s.class)}): growth ${fmtGrowth(s.growth)}, visibility ${fmtPct(s.visibility)}, ${fmtInt(s.recent_docs)} recent documents`;
      const pt = svg(
        "g",
        {
          class: "signal-point cls-" + cls,
          "data-id": str(s.id),
          tabindex: "0",
          role: "link",
          "aria-label": name,
        },
        svg("title", null, name),
        svg("circle", { cx: X(mapVis(s)).toFixed(1), cy: Y(s.growth).toFixed(1), r: r.toFixed(1) })
      );
      const lab = labelFor.get(s);
      if (lab) {
        const t = svg("text", { class: "point-label", x: lab.tx.toFixed(1), y: lab.ty.toFixed(1), "text-anchor": lab.anchor }, lab.text);
        pt.appendChild(t);
      }
      pt.addEventListener("click", () => go(href));
      pt.addEventListener("keydown", (e) => {
        if (e.key === "Enter" || e.key === " ") {
          e.preventDefault();
          go(href);
        }
      });
      pointsLayer.appendChild(pt);
    }
    root.appendChild(pointsLayer);
    return root;
  }

  // Legend for class colours.
  function legend() {
    return el(
      "ul",
      { class: "legend" },
      CLASS_ORDER.map((c) => el("li", null, el("span", { class: "swatch cls-" + c, "aria-hidden": "true" }), CLASS_TEXT[c], el("span", { class: "muted" }, " – " + CLASS_HELP[c])))
    );
  }

  function keywordChips(words) {
    const list = arr(words);
    if (!list.length) return null;
    return el("ul", { class: "chips", "aria-label": "Keywords" }, list.map((w) => el("li", null, str(w))));
  }

  function docRow(d) {
    return el(
      "li",
      { class: "doc-row" },
      el("time", { datetime: str(d.published) }, fmtDate(d.published)),
      el("span", { class: "source" }, str(d.source)),
      el("a", { href: docHref(d.id), class: "title" }, str(d.title) || "(untitled)"),
      externalLink(d.url)
    );
  }

  function stat(label, value, hint) {
    return el("div", { class: "stat", title: hint || null }, el("span", { class: "stat-value" }, value), el("span", { class: "stat-label" }, label));
  }

  // ------------------------------------------------------------------- pages

  async function pageSearch(seq, params) {
    const q = params.get("q") || "";
    const from = params.get("from") || "";
    const to = params.get("to") || "";
    const source = params.get("source") || "";
    const lang = params.get("lang") || "";
    const hybrid = params.get("hybrid") || "";
    document.title = (q ? q + " – " : "") + "Search – weaksignal";

    const current = { q, from, to, source, lang, hybrid };
    const nav = (changes) => go(hashFor("/search", Object.assign({}, current, changes)));

    // The form is drawn before the fetch so the user can keep typing.
    const qInput = el("input", { id: "q", name: "q", type: "search", value: q, placeholder: "e.g. coronavirus, \"climate strike\", ilmasto -sport", autocomplete: "off", spellcheck: "false" });
    const fromInput = el("input", { id: "from", name: "from", type: "date", value: fmtDate(from) });
    const toInput = el("input", { id: "to", name: "to", type: "date", value: fmtDate(to) });
    const sourceSel = el("select", { id: "source", name: "source" }, el("option", { value: "" }, "all sources"));
    const langSel = el("select", { id: "lang", name: "lang" }, el("option", { value: "" }, "all languages"));
    for (const [sel, v] of [[sourceSel, source], [langSel, lang]]) {
      if (v) sel.appendChild(el("option", { value: v }, v));
      sel.value = v;
    }
    const form = el(
      "form",
      { id: "search-form", class: "search-form", role: "search" },
      el("div", { class: "field grow" }, el("label", { for: "q" }, "Query"), qInput),
      el("div", { class: "field" }, el("label", { for: "from" }, "From"), fromInput),
      el("div", { class: "field" }, el("label", { for: "to" }, "To"), toInput),
      el("div", { class: "field" }, el("label", { for: "source" }, "Source"), sourceSel),
      el("div", { class: "field" }, el("label", { for: "lang" }, "Language"), langSel),
      el("div", { class: "field" }, el("span", { class: "label-spacer", "aria-hidden": "true" }, " "), el("button", { type: "submit" }, "Search"))
    );
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      go(hashFor("/search", { q: qInput.value, from: fromInput.value, to: toInput.value, source: sourceSel.value, lang: langSel.value, hybrid }));
    });
    for (const s of [sourceSel, langSel]) s.addEventListener("change", () => form.requestSubmit());

    const help = el(
      "p",
      { class: "hint" },
      "Syntax: AND, OR, -word, \"phrase\", title:word. An empty query lists everything. ",
      q ? el("a", { id: "watch-search", class: "button-link", href: hashFor("/watches", { kind: "query", text: q, source, lang, name: q }) }, "Watch this search") : null
    );
    const status = el("p", { class: "muted", "aria-live": "polite" }, "Searching…");
    render(seq, el("h1", null, "Search"), form, help, status);
    if (!q && !location.hash.includes("?")) qInput.focus();

    const data = await api("search", { q, from, to, source, lang, hybrid, limit: SEARCH_LIMIT });
    if (seq !== renderSeq) return;

    const facets = data.facets && typeof data.facets === "object" ? data.facets : {};
    for (const [sel, key, cur] of [[sourceSel, "source", source], [langSel, "lang", lang]]) {
      for (const f of arr(facets[key])) {
        const v = str(f && f.value);
        if (!v || v === cur) continue;
        sel.appendChild(el("option", { value: v }, `${v} (${fmtInt(f.count)})`));
      }
      sel.value = cur;
    }

    const hits = arr(data.hits);
    const total = typeof data.total === "number" ? data.total : hits.length;
    const summary = el(
      "p",
      { class: "total", "aria-live": "polite" },
      el("strong", null, fmtInt(total)),
      total === 1 ? " matching document" : " matching documents",
      hits.length < total ? ` · showing the best ${fmtInt(hits.length)}` : ""
    );

    // Facets: click a value to filter; click the active one to clear it.
    const facetBox = el("aside", { id: "facets", class: "facets", "aria-label": "Filters" });
    for (const [key, title, cur] of [["source", "Sources", source], ["lang", "Languages", lang]]) {
      const values = arr(facets[key]);
      const list = el("ul", null);
      for (const f of values) {
        const v = str(f && f.value);
        const active = v === cur;
        list.appendChild(
          el(
            "li",
            null,
            el(
              "button",
              {
                type: "button",
                class: "facet" + (active ? " active" : ""),
                "data-facet": key,
                "data-value": v,
                "aria-pressed": active ? "true" : "false",
                onclick: () => nav({ [key]: active ? "" : v }),
              },
              el("span", { class: "facet-value" }, v || "(none)"),
              el("span", { class: "facet-count" }, fmtInt(f && f.count))
            )
          )
        );
      }
      if (cur && !values.some((f) => str(f && f.value) === cur)) {
        list.appendChild(el("li", null, el("button", { type: "button", class: "facet active", "aria-pressed": "true", onclick: () => nav({ [key]: "" }) }, el("span", { class: "facet-value" }, cur), el("span", { class: "facet-count" }, "×"))));
      }
      facetBox.appendChild(el("section", null, el("h2", null, title), values.length || cur ? list : el("p", { class: "muted" }, "–")));
    }
    if (from || to) {
      facetBox.appendChild(
        el("section", null, el("h2", null, "Dates"), el("button", { type: "button", class: "facet active", onclick: () => nav({ from: "", to: "" }) }, el("span", { class: "facet-value" }, `${fmtDate(from) || "…"} – ${fmtDate(to) || "…"}`), el("span", { class: "facet-count" }, "×")))
      );
    }

    // Histogram per month; a bar click narrows the dates to that month.
    const histo = arr(data.histogram).filter((h) => h && /^\d{4}-\d{2}/.test(str(h.month)));
    histo.sort((a, b) => (str(a.month) < str(b.month) ? -1 : 1));
    const filled = fillMonths(histo);
    const histItems = filled.map((h) => ({
      label: monthLabel(h.month),
      value: h.count,
      title: `${h.month}: ${fmtInt(h.count)} documents`,
      onclick: h.count > 0 ? () => nav({ from: h.month + "-01", to: lastDayOfMonth(h.month) }) : null,
    }));
    const histogram = histItems.length
      ? barChart(histItems, { id: "histogram", className: "histogram", label: "Matching documents per month", height: 150, maxLabels: 14 })
      : el("p", { id: "histogram", class: "muted" }, "No dates to chart.");

    const results = el("ol", { id: "results", class: "results" });
    for (const h of hits) {
      results.appendChild(
        el(
          "li",
          { class: "hit", "data-id": str(h.id) },
          el("div", { class: "meta" }, el("time", { datetime: str(h.published) }, fmtDate(h.published)), el("span", { class: "source" }, str(h.source)), externalLink(h.url)),
          el("h3", null, el("a", { href: docHref(h.id) }, str(h.title) || "(untitled)")),
          h.snippet ? el("p", { class: "snippet" }, renderSnippet(h.snippet)) : null
        )
      );
    }
    if (!hits.length) results.appendChild(el("li", { class: "empty muted" }, "No documents match."));

    render(
      seq,
      el("h1", null, "Search"),
      form,
      help,
      summary,
      el("div", { class: "search-layout" }, facetBox, el("section", { class: "search-main" }, el("h2", { class: "visually-hidden" }, "Documents per month"), histogram, el("h2", { class: "visually-hidden" }, "Results"), results))
    );
  }

  // Fill in months missing from a sorted histogram so gaps show as empty bars.
  function fillMonths(histo) {
    if (histo.length < 2) return histo.map((h) => ({ month: str(h.month).slice(0, 7), count: Number(h.count) || 0 }));
    const byMonth = new Map(histo.map((h) => [str(h.month).slice(0, 7), Number(h.count) || 0]));
    const first = str(histo[0].month).slice(0, 7);
    const last = str(histo[histo.length - 1].month).slice(0, 7);
    let [y, mo] = first.split("-").map(Number);
    const out = [];
    for (let guard = 0; guard < 1200; guard++) {
      const key = `${y}-${String(mo).padStart(2, "0")}`;
      out.push({ month: key, count: byMonth.get(key) || 0 });
      if (key >= last) break;
      mo += 1;
      if (mo > 12) {
        mo = 1;
        y += 1;
      }
    }
    return out;
  }

  function lastDayOfMonth(ym) {
    const [y, m] = ym.split("-").map(Number);
    const d = new Date(Date.UTC(y, m, 0)).getUTCDate();
    return `${ym}-${String(d).padStart(2, "0")}`;
  }

  async function pageSignals(seq, params) {
    const asOf = params.get("as_of") || "";
    const win = params.get("window") || "";
    const cls = params.get("class") || "";
    document.title = "Signals – weaksignal";
    const extra = { as_of: asOf, window: win };

    const tag = params.get("tag") || "";
    const radarId = params.get("radar") || "";
    const [data, taxData] = await Promise.all([
      api("signals", { as_of: asOf, window: win, class: cls, tag }),
      api("taxonomies", {}).catch(() => []),
    ]);
    if (seq !== renderSeq) return;
    const taxonomies = arr(taxData).filter((t) => t && typeof t === "object" && Array.isArray(t.categories));

    const signals = arr(data.signals).filter((s) => s && typeof s === "object");
    const figures = data.figures && typeof data.figures === "object" ? data.figures : {};

    // Controls.
    const asOfInput = el("input", { id: "as_of", name: "as_of", type: "date", value: fmtDate(asOf) });
    const winSel = el("select", { id: "window", name: "window" }, el("option", { value: "" }, "default"), ["day", "week", "month"].map((w) => el("option", { value: w }, w)));
    winSel.value = ["day", "week", "month"].includes(win) ? win : "";
    const tagSel = el(
      "select",
      { id: "tag", name: "tag" },
      el("option", { value: "" }, "any"),
      taxonomies.map((t) => el("optgroup", { label: str(t.name) }, arr(t.categories).map((c) => el("option", { value: str(t.id) + ":" + str(c.id) }, str(c.name)))))
    );
    tagSel.value = tag;
    const chosen = new Set(cls.split(",").map((c) => c.trim()).filter(Boolean));
    const boxes = CLASS_ORDER.map((c) => el("input", { type: "checkbox", name: "class", value: c, id: "class-" + c, checked: chosen.has(c) }));
    const form = el(
      "form",
      { id: "signals-form", class: "search-form" },
      el("div", { class: "field" }, el("label", { for: "as_of" }, "As of"), asOfInput),
      el("div", { class: "field" }, el("label", { for: "window" }, "Window"), winSel),
      el("div", { class: "field" }, el("label", { for: "tag" }, "Tag"), tagSel),
      el(
        "fieldset",
        { class: "field classes" },
        el("legend", null, "Classes"),
        boxes.map((b, i) => el("label", { for: b.id, class: "check" }, b, el("span", { class: "swatch cls-" + CLASS_ORDER[i], "aria-hidden": "true" }), CLASS_ORDER[i]))
      ),
      el("div", { class: "field" }, el("span", { class: "label-spacer", "aria-hidden": "true" }, " "), el("button", { type: "submit" }, "Show"))
    );
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const c = boxes.filter((b) => b.checked).map((b) => b.value).join(",");
      go(hashFor("/signals", { as_of: asOfInput.value, window: winSel.value, class: c, tag: tagSel.value, radar: radarId }));
    });

    // Summary figures.
    const counts = {};
    for (const s of signals) counts[s.class] = (counts[s.class] || 0) + 1;
    const figs = el(
      "div",
      { class: "stats-row" },
      stat("as of", fmtDate(data.as_of) || "–"),
      stat("window", str(data.window) || "–"),
      "documents" in figures ? stat("documents", fmtInt(figures.documents)) : null,
      "topics" in figures ? stat("topics", fmtInt(figures.topics)) : null,
      stat("signals", fmtInt(signals.length)),
      CLASS_ORDER.filter((c) => counts[c]).map((c) => stat(c, fmtInt(counts[c]))),
      "outlier_share" in figures ? stat("outliers", fmtPct(figures.outlier_share), "share of documents in no topic") : null,
      "coherence" in figures ? stat("coherence", fmtNum(figures.coherence), "mean within-topic similarity (random pairs: " + fmtNum(figures.random_pair_similarity) + ")") : null,
      "births" in figures ? stat("births / merges / splits", `${fmtInt(figures.births)} / ${fmtInt(figures.merges)} / ${fmtInt(figures.splits)}`) : null
    );

    const mapBlock = signals.length
      ? el("figure", { class: "map-figure" }, emergenceMap(signals, extra), el("figcaption", null, legend(), el("p", { class: "hint" }, "Click or press Enter on a point to open its topic (term signals open a search). Point size: recent documents. Vertical line: visibility 5 %; horizontal line: growth 1× (steady).")))
      : el("p", { class: "muted" }, "No signals for these settings.");

    // The futures radar on one taxonomy, switchable.
    let radarBlock = null;
    if (signals.length && taxonomies.length) {
      const current = taxonomies.find((t) => t.id === radarId) || taxonomies[0];
      const radarSel = el("select", { id: "radar", name: "radar" }, taxonomies.map((t) => el("option", { value: str(t.id) }, str(t.name))));
      radarSel.value = current.id;
      radarSel.addEventListener("change", () => go(hashFor("/signals", { as_of: asOf, window: win, class: cls, tag, radar: radarSel.value })));
      radarBlock = el(
        "figure",
        { class: "radar-figure" },
        el("div", { class: "field" }, el("label", { for: "radar" }, "Radar"), radarSel),
        futuresRadar(signals, current, extra),
        el("figcaption", null, el("p", { class: "hint" }, "Sectors: the taxonomy's categories (each signal in the sector of its best tag). Rings: strong in the middle, emerging, weak outside. Point size: recent documents. Click a point to open the signal."))
      );
    }

    // Signals grouped by class.
    const list = el("div", { id: "signal-list" });
    const groups = [...CLASS_ORDER, ...new Set(signals.map((s) => s.class).filter((c) => !CLASS_ORDER.includes(c)))];
    for (const c of groups) {
      const members = signals.filter((s) => s.class === c);
      if (!members.length) continue;
      list.appendChild(
        el(
          "section",
          { class: "signal-group" },
          el("h2", null, el("span", { class: "swatch cls-" + (CLASS_ORDER.includes(c) ? c : "other"), "aria-hidden": "true" }), CLASS_TEXT[c] || str(c), el("span", { class: "count" }, fmtInt(members.length)), CLASS_HELP[c] ? el("span", { class: "muted small" }, " – " + CLASS_HELP[c]) : null),
          members.map((s) => signalRow(s, extra, signals))
        )
      );
    }

    // What analysts' marks hide, and who marked it.
    const hidden = arr(data.hidden).filter((h) => h && typeof h === "object");
    const hiddenBlock = hidden.length
      ? el(
          "section",
          { id: "hidden-list", class: "hidden-list" },
          el("h2", null, "Hidden by analysts' marks", el("span", { class: "count" }, fmtInt(hidden.length))),
          el("ul", null, hidden.map((h) => el("li", { "data-id": str(h.id) }, el("strong", null, str(h.label) || str(h.id)), " – ", str(h.verdict).replace(/[-_]/g, " "), h.into ? " " + str(h.into) : "", h.by ? " by " + str(h.by) : "", h.marked ? " on " + fmtDate(h.marked) : "", h.note ? ": " + str(h.note) : "")))
        )
      : null;
    const marking = el("p", { class: "hint marking" }, el("label", { for: "analyst" }, "Marks are signed by "), analystInput("analyst"), " · buttons on each signal mark it relevant, irrelevant or a duplicate, or watch it.");

    render(seq, el("h1", null, "Signals"), form, figs, mapBlock, radarBlock, marking, list, hiddenBlock);
  }

  // Mark and watch buttons of a signal card; `others` are the page's
  // signals (a duplicate names one of them).
  function signalActions(s, extra, others) {
    const status = el("span", { class: "mark-status muted small", "aria-live": "polite" });
    const mark = async (verdict, duplicateOf) => {
      status.textContent = "saving…";
      try {
        const saved = await apiWrite("marks", { signal: str(s.id), verdict, duplicate_of: duplicateOf || null, by: analystName(), as_of: (extra && extra.as_of) || null });
        status.textContent = "marked " + str(saved && saved.verdict ? saved.verdict : verdict).replace(/_/g, " ") + (duplicateOf ? " of " + duplicateOf : "");
        row.classList.toggle("marked-away", verdict !== "relevant");
      } catch (e) {
        status.textContent = "";
        showError(e);
      }
    };
    const dupSel = el("select", { class: "dup-select", "aria-label": "Duplicate of" }, el("option", { value: "" }, "duplicate of…"), others.filter((o) => o.id !== s.id).map((o) => el("option", { value: str(o.id) }, truncate(str(o.label) || str(o.id), 40))));
    dupSel.addEventListener("change", () => {
      if (dupSel.value) mark("duplicate_of", dupSel.value);
    });
    const watchHref = str(s.id).startsWith("topic-")
      ? hashFor("/watches", { kind: "topic", text: str(s.id).replace(/^topic-/, ""), name: str(s.label) })
      : hashFor("/watches", { kind: "query", text: arr(s.words).length ? arr(s.words).map(str).join(" ") : str(s.label), name: str(s.label) });
    const row = el(
      "div",
      { class: "signal-actions" },
      el("button", { type: "button", class: "mark", "data-verdict": "relevant", onclick: () => mark("relevant") }, "Relevant"),
      el("button", { type: "button", class: "mark", "data-verdict": "irrelevant", onclick: () => mark("irrelevant") }, "Irrelevant"),
      others.length > 1 ? dupSel : null,
      el("a", { class: "button-link watch-signal", href: watchHref }, "Watch"),
      status
    );
    return row;
  }

  // Sectors are the categories, rings the classes (strong inside, weak
  // outside); a signal sits in the sector of its best tag on the taxonomy.
  function futuresRadar(signals, taxonomy, extra) {
    const SIZE = 560;
    const C = SIZE / 2;
    const R = 200;
    const cats = arr(taxonomy.categories);
    const n = Math.max(cats.length, 1);
    const sector = (2 * Math.PI) / n;
    const band = (cls) => (cls === "strong" ? [0, R / 3] : cls === "emerging" ? [R / 3, (2 * R) / 3] : [(2 * R) / 3, R]);
    const at = (angle, radius) => [C + radius * Math.cos(angle), C + radius * Math.sin(angle)];
    const root = svg("svg", { id: "futures-radar", class: "radar", viewBox: `0 0 ${SIZE} ${SIZE}`, role: "img", "aria-label": "Futures radar: " + str(taxonomy.name) });
    for (const r of [R / 3, (2 * R) / 3, R]) root.appendChild(svg("circle", { cx: C, cy: C, r, fill: "none", stroke: "#ccc" }));
    const list = el("ul", { class: "radar-list" });
    cats.forEach((c, j) => {
      const start = -Math.PI / 2 + j * sector;
      const [x, y] = at(start, R);
      root.appendChild(svg("line", { x1: C, y1: C, x2: x, y2: y, stroke: "#ccc" }));
      const [lx, ly] = at(start + sector / 2, R + 22);
      root.appendChild(svg("text", { x: lx, y: ly, "text-anchor": lx < C - 5 ? "end" : lx > C + 5 ? "start" : "middle" }, truncate(str(c.name), 32)));
      const mine = signals.filter((s) => {
        const best = arr(s.tags).find((t) => t && t.taxonomy === taxonomy.id);
        return best && best.id === c.id;
      });
      mine.forEach((s, m) => {
        const [inner, outer] = band(s.class);
        const along = (m + 0.5) / mine.length;
        const depth = 0.25 + 0.5 * (((m * 7) % 5) / 4);
        const [px, py] = at(start + sector * (0.1 + 0.8 * along), inner + (outer - inner) * depth);
        const cls = CLASS_ORDER.includes(s.class) ? s.class : "other";
        const href = signalHref(s, extra);
        const dot = svg(
          "circle",
          { cx: px, cy: py, r: 3 + Math.min(Math.sqrt(Number(s.recent_docs) || 0), 9), class: "pt cls-" + cls, tabindex: "0", role: "link", "aria-label": str(s.label) + " (" + str(s.class) + ")" },
          svg("title", null, str(s.label) + " (" + str(s.class) + ", " + fmtInt(s.recent_docs) + " recent documents)")
        );
        dot.addEventListener("click", () => go(href));
        dot.addEventListener("keydown", (e) => {
          if (e.key === "Enter") go(href);
        });
        root.appendChild(dot);
      });
      list.appendChild(el("li", null, el("b", null, str(c.name)), ": ", mine.length ? mine.map((s, i) => [i ? ", " : "", el("a", { href: signalHref(s, extra) }, str(s.label))]) : "none"));
    });
    return el("div", { class: "radar-wrap" }, root, list);
  }

  // "Already there, not yet here": counts by language as "en 5, sv 2".
  function countList(list) {
    return arr(list).map((c) => str(c && c.name) + " " + fmtInt(c && c.docs)).join(", ");
  }

  function abroadLine(s) {
    const a = s.abroad_first;
    if (a && typeof a === "object") {
      return el("p", { class: "abroad small" }, "Already abroad, not yet at home: growing since " + (fmtDate(a.since) || "–") + " (" + countList(a.languages) + "); " + fmtInt(a.home_docs) + " home documents");
    }
    const h = s.arrived_home;
    if (h && typeof h === "object") {
      return el("p", { class: "abroad small" }, "Arrived home after " + Math.round(Number(h.lag_days) || 0) + " days, on " + (fmtDate(h.date) || "–") + " (abroad since " + (fmtDate(h.abroad_since) || "–") + ")");
    }
    return null;
  }

  function signalRow(s, extra, others) {
    const cls = CLASS_ORDER.includes(s.class) ? s.class : "other";
    const href = signalHref(s, extra);
    const isTopic = str(s.id).startsWith("topic-");
    const row = el(
      "article",
      { class: "signal cls-" + cls, "data-id": str(s.id) },
      el(
        "header",
        null,
        el("h3", null, el("a", { href, class: "signal-link" }, str(s.label) || str(s.id))),
        el("span", { class: "badge cls-" + cls }, str(s.class)),
        el("span", { class: "muted small" }, isTopic ? "topic" : "term", arr(s.found_by).length ? " · found by " + arr(s.found_by).map(str).join(" + ") : ""),
        sparkline(s.timeline, cls)
      ),
      keywordChips(s.keywords),
      arr(s.tags).length ? el("ul", { class: "chips tags", "aria-label": "Tags" }, arr(s.tags).map((t) => el("li", { title: str(t.taxonomy) + " " + fmtNum(t.score) }, str(t.name)))) : null,
      abroadLine(s),
      el(
        "dl",
        { class: "numbers" },
        el("div", null, el("dt", null, "growth"), el("dd", null, fmtGrowth(s.growth))),
        el("div", null, el("dt", null, "visibility"), el("dd", null, fmtPct(s.visibility))),
        el("div", null, el("dt", null, "recent docs"), el("dd", null, fmtInt(s.recent_docs))),
        el("div", null, el("dt", null, "docs"), el("dd", null, fmtInt(s.docs))),
        el("div", null, el("dt", null, "sources"), el("dd", null, s.single_source ? "one only" : fmtInt(s.sources))),
        typeof s.p_grow === "number" ? el("div", null, el("dt", null, "p(grows 3× in 8 weeks)"), el("dd", null, fmtNum(s.p_grow))) : null,
        typeof s.q_value === "number" ? el("div", null, el("dt", null, "q"), el("dd", null, s.q_value.toExponential(1))) : null,
        el("div", null, el("dt", null, "score"), el("dd", null, fmtNum(s.score))),
        el("div", null, el("dt", null, "first seen"), el("dd", null, fmtDate(s.first_seen) || "–"))
      ),
      s.why ? el("details", { class: "why" }, el("summary", null, "Why this class"), el("p", null, str(s.why))) : null,
      arr(s.examples).length ? el("ul", { class: "examples" }, arr(s.examples).map(docRow)) : null,
      others ? signalActions(s, extra, others) : null
    );
    // The whole row opens the signal, except clicks on its own links and details.
    row.addEventListener("click", (e) => {
      if (e.target.closest("a, details, button, input, select, .signal-actions")) return;
      if (window.getSelection && String(window.getSelection()).length) return;
      go(href);
    });
    return row;
  }

  const RULE_TEXT = { new_weak: "a new weak signal", promoted: "a promotion to emerging or strong", growth: "growth of at least" };

  function describeTarget(t) {
    if (!t || typeof t !== "object") return "–";
    if (t.kind === "query") return "query \u201c" + str(t.query) + "\u201d" + (t.source ? " in " + str(t.source) : "") + (t.lang ? " (" + str(t.lang) + ")" : "");
    if (t.kind === "topic") return "topic " + str(t.id);
    if (t.kind === "concept") return "concept \u201c" + str(t.text) + "\u201d";
    return str(t.kind);
  }

  function describeRule(r) {
    if (!r || typeof r !== "object") return "–";
    if (r.when === "growth") return RULE_TEXT.growth + " " + fmtNum(r.growth) + "×";
    return RULE_TEXT[r.when] || str(r.when);
  }

  // Watches with their recent alerts, and a form to add one (prefilled from
  // a search or a signal card through the route's parameters).
  async function pageWatches(seq, params) {
    document.title = "Watches – weaksignal";
    const kind = ["query", "topic", "concept"].includes(params.get("kind")) ? params.get("kind") : "query";
    const nameInput = el("input", { id: "watch-name", name: "name", type: "text", required: true, maxlength: "100", value: truncate(params.get("name") || "", 60) });
    const kindSel = el("select", { id: "watch-kind", name: "kind" }, ["query", "topic", "concept"].map((k) => el("option", { value: k }, k)));
    kindSel.value = kind;
    const textInput = el("input", { id: "watch-text", name: "text", type: "text", required: true, value: params.get("text") || "", placeholder: "a search query, a topic number, or a concept in any language" });
    const ruleSel = el("select", { id: "watch-rule", name: "rule" }, Object.entries(RULE_TEXT).map(([k, v]) => el("option", { value: k }, v)));
    const growthInput = el("input", { id: "watch-growth", name: "growth", type: "number", min: "1", step: "0.5", value: "2" });
    const growthField = el("div", { class: "field" }, el("label", { for: "watch-growth" }, "Growth ×"), growthInput);
    const showGrowth = () => (growthField.hidden = ruleSel.value !== "growth");
    ruleSel.addEventListener("change", showGrowth);
    showGrowth();
    const quietInput = el("input", { id: "watch-quiet", name: "quiet_days", type: "number", min: "0", max: "365", value: "7" });
    const ownerInput = analystInput("watch-owner");
    const status = el("p", { class: "muted", "aria-live": "polite" });
    const form = el(
      "form",
      { id: "watch-form", class: "search-form" },
      el("div", { class: "field" }, el("label", { for: "watch-name" }, "Name"), nameInput),
      el("div", { class: "field" }, el("label", { for: "watch-kind" }, "Follows"), kindSel),
      el("div", { class: "field grow" }, el("label", { for: "watch-text" }, "Query, topic or concept"), textInput),
      el("div", { class: "field" }, el("label", { for: "watch-rule" }, "Tell me on"), ruleSel),
      growthField,
      el("div", { class: "field" }, el("label", { for: "watch-quiet" }, "Quiet days"), quietInput),
      el("div", { class: "field" }, el("label", { for: "watch-owner" }, "Owner"), ownerInput),
      el("div", { class: "field" }, el("span", { class: "label-spacer", "aria-hidden": "true" }, " "), el("button", { type: "submit" }, "Add watch"))
    );
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const text = textInput.value.trim();
      let target;
      if (kindSel.value === "topic") target = { kind: "topic", id: Number(text.replace(/^topic-/, "")) };
      else if (kindSel.value === "concept") target = { kind: "concept", text };
      else target = { kind: "query", query: text, source: params.get("source") || null, lang: params.get("lang") || null };
      const rule = ruleSel.value === "growth" ? { when: "growth", growth: Number(growthInput.value) } : { when: ruleSel.value };
      status.textContent = "saving…";
      try {
        await apiWrite("watches", { name: nameInput.value.trim(), owner: ownerInput.value.trim(), target, rule, quiet_days: Number(quietInput.value) });
        go("#/watches");
      } catch (err) {
        status.textContent = "";
        showError(err);
      }
    });

    render(seq, el("h1", null, "Watches"), form, status, el("p", { class: "muted" }, "Loading watches…"));
    const [watches, alerts] = await Promise.all([api("watches", {}), api("alerts", { limit: 500 })]);
    if (seq !== renderSeq) return;
    const byWatch = {};
    for (const a of arr(alerts)) {
      if (!a || typeof a !== "object") continue;
      (byWatch[str(a.watch)] = byWatch[str(a.watch)] || []).push(a);
    }
    const list = el("ul", { id: "watch-list", class: "watch-list" });
    for (const w of arr(watches)) {
      if (!w || typeof w !== "object") continue;
      const recent = (byWatch[str(w.name)] || []).slice(0, 5);
      list.appendChild(
        el(
          "li",
          { class: "watch", "data-name": str(w.name) },
          el("h2", null, str(w.name), w.owner ? el("span", { class: "muted small" }, " · " + str(w.owner)) : null),
          el("p", { class: "muted" }, describeTarget(w.target), " · tells on ", describeRule(w.rule), " · quiet for " + fmtInt(w.quiet_days) + " days"),
          recent.length
            ? el(
                "ol",
                { class: "watch-alerts" },
                recent.map((a) => {
                  const sig = a.alert && a.alert.signal ? a.alert.signal : {};
                  return el("li", { class: "watch-alert" }, el("time", { datetime: str(a.fired_at) }, fmtDate(a.as_of)), " ", el("a", { href: signalHref(sig, { as_of: fmtDate(a.as_of) }) }, str(sig.label) || str(a.signal)), " ", el("span", { class: "badge cls-" + (CLASS_ORDER.includes(sig.class) ? sig.class : "other") }, str(sig.class)), " ", el("span", { class: "muted small" }, fmtGrowth(sig.growth) + " · " + str(a.alert && a.alert.evidence)));
                })
              )
            : el("p", { class: "muted small" }, "No alerts yet: runs evaluate the watches after the signals.")
        )
      );
    }
    if (!list.children.length) list.appendChild(el("li", { class: "empty muted" }, "No watches yet."));
    render(seq, el("h1", null, "Watches"), form, status, el("h2", null, "Watching"), list);
  }

  async function pageTopic(seq, id, params) {
    const asOf = params.get("as_of") || "";
    const win = params.get("window") || "";
    const data = await api("topics/" + encodeURIComponent(id), { as_of: asOf, window: win });
    if (seq !== renderSeq) return;
    const winName = str(data.window) || win || "window";
    const t = data.topic && typeof data.topic === "object" ? data.topic : {};
    const sig = data.signal && typeof data.signal === "object" ? data.signal : null;
    const label = str(t.label) || "topic " + str(t.id || id);
    document.title = label + " – weaksignal";

    const timeline = arr(t.timeline).filter((w) => w && typeof w === "object");
    let lastMonth = "";
    const items = timeline.map((w) => {
      const start = fmtDate(w.start);
      const month = start.slice(0, 7);
      const first = month !== lastMonth;
      lastMonth = month;
      return { label: first ? monthLabel(month) : "", forceLabel: first, value: Number(w.docs) || 0, title: `${start}: ${fmtInt(w.docs)} documents` };
    });
    // Keep month labels from crowding: show every other one when there are many.
    const monthLabels = items.filter((i) => i.label);
    if (monthLabels.length > 12) {
      let k = 0;
      for (const i of items) if (i.label && k++ % 2 === 1) i.label = "";
    }
    const chart = items.length
      ? barChart(items, { id: "timeline", className: "timeline", label: `Documents per ${winName}`, height: 170, maxLabels: 1000 })
      : el("p", { id: "timeline", class: "muted" }, "No timeline.");

    const docs = arr(data.documents).filter((d) => d && typeof d === "object");
    const docList = el("ol", { id: "documents", class: "doc-list" }, docs.map(docRow));
    const cls = sig && CLASS_ORDER.includes(sig.class) ? sig.class : "other";

    const meta = el(
      "div",
      { class: "stats-row" },
      stat("documents", fmtInt(t.docs)),
      stat("recent", fmtInt(t.recent_docs)),
      stat("first seen", fmtDate(t.first_seen) || "–"),
      stat("last seen", fmtDate(t.last_seen) || "–"),
      stat("as of", fmtDate(data.as_of) || "–"),
      t.parent !== null && t.parent !== undefined ? stat("parent", el("a", { href: topicHref(t.parent, { as_of: asOf, window: win }) }, "topic " + str(t.parent))) : null,
      arr(t.merged).length ? stat("merged", arr(t.merged).map((m, i) => [i ? ", " : "", el("a", { href: topicHref(m, { as_of: asOf, window: win }) }, str(m))])) : null
    );

    const signalBox = sig
      ? el(
          "section",
          { class: "signal-box cls-" + cls, id: "topic-signal" },
          el("h2", null, el("span", { class: "badge cls-" + cls }, str(sig.class)), " signal"),
          el(
            "dl",
            { class: "numbers" },
            el("div", null, el("dt", null, "growth"), el("dd", null, fmtGrowth(sig.growth))),
            el("div", null, el("dt", null, "visibility"), el("dd", null, fmtPct(sig.visibility))),
            el("div", null, el("dt", null, "recent docs"), el("dd", null, fmtInt(sig.recent_docs))),
            el("div", null, el("dt", null, "sources"), el("dd", null, fmtInt(sig.sources))),
            el("div", null, el("dt", null, "score"), el("dd", null, fmtNum(sig.score)))
          ),
          sig.why ? el("p", { class: "why-text" }, str(sig.why)) : null
        )
      : el("p", { class: "muted" }, "Not a signal at this date.");

    render(
      seq,
      el(
        "article",
        { id: "topic", "data-id": str(t.id) },
        el("p", { class: "crumbs" }, el("a", { href: hashFor("/signals", { as_of: asOf, window: win }) }, "← Signals"), " · topic " + str(t.id !== undefined ? t.id : id)),
        el("h1", null, label),
        keywordChips(t.keywords),
        meta,
        signalBox,
        el("h2", null, "Documents per " + winName),
        chart,
        el("h2", null, "Documents ", el("span", { class: "count" }, fmtInt(docs.length))),
        docs.length ? docList : [docList, el("p", { class: "muted" }, "No documents listed.")],
        Number(data.older_not_listed) > 0 ? el("p", { class: "muted" }, `${fmtInt(data.older_not_listed)} older documents not listed.`) : null
      )
    );
  }

  async function pageDoc(seq, id) {
    const d = await api("docs/" + encodeURIComponent(id));
    if (seq !== renderSeq) return;
    const title = str(d.title) || "(untitled)";
    document.title = title + " – weaksignal";
    const paragraphs = str(d.text)
      .split(/\n\s*\n|\r\n\s*\r\n/)
      .map((p) => p.trim())
      .filter(Boolean);
    // Texts without blank lines: fall back to single line breaks.
    const paras = paragraphs.length === 1 ? paragraphs[0].split(/\n+/).map((p) => p.trim()).filter(Boolean) : paragraphs;
    const carriers = arr(d.carriers).filter((c) => c && typeof c === "object");
    render(
      seq,
      el(
        "article",
        { id: "doc", "data-id": str(d.id), lang: /^[a-z]{2,3}$/.test(str(d.lang)) ? str(d.lang) : null },
        el("p", { class: "crumbs" }, el("button", { type: "button", class: "linkish", onclick: () => (history.length > 1 ? history.back() : go("#/search")) }, "← Back")),
        el("h1", null, title),
        el(
          "div",
          { class: "meta doc-meta" },
          el("time", { datetime: str(d.published) }, fmtDate(d.published) || "no date"),
          el("span", { class: "source" }, str(d.source)),
          d.lang ? el("span", { class: "lang" }, str(d.lang)) : null,
          externalLink(d.url, "original")
        ),
        el("div", { class: "doc-text" }, paras.length ? paras.map((p) => el("p", null, p)) : el("p", { class: "muted" }, "No text stored.")),
        carriers.length
          ? el("section", { class: "carriers" }, el("h2", null, "Also published by"), el("ul", null, carriers.map((c) => el("li", null, el("span", { class: "source" }, str(c.source)), " ", externalLink(c.url) || el("span", { class: "muted" }, str(c.url))))))
          : null,
        d.fetched_at ? el("p", { class: "muted small" }, "Fetched " + str(d.fetched_at) + " · id " + str(d.id)) : el("p", { class: "muted small" }, "id " + str(d.id))
      )
    );
  }

  async function pageStats(seq) {
    document.title = "Stats – weaksignal";
    const d = await api("stats");
    if (seq !== renderSeq) return;
    const total = Number(d.documents) || 0;
    const table = (caption, rows, head) => {
      const max = Math.max(1, ...rows.map((r) => Number(r[1]) || 0));
      return el(
        "table",
        { class: "stats-table" },
        el("caption", null, caption),
        el("thead", null, el("tr", null, el("th", { scope: "col" }, head), el("th", { scope: "col", class: "num" }, "documents"), el("th", { scope: "col" }, el("span", { class: "visually-hidden" }, "share")))),
        el(
          "tbody",
          null,
          rows.map((r) => {
            const n = Number(r[1]) || 0;
            const bar = el("span", { class: "cell-bar" });
            bar.style.width = ((n / max) * 65).toFixed(1) + "%"; // CSSOM, allowed by the CSP
            return el("tr", null, el("th", { scope: "row" }, str(r[0])), el("td", { class: "num" }, fmtInt(n)), el("td", { class: "bar-cell" }, bar, el("span", { class: "muted small" }, total ? fmtPct(n / total) : "")));
          })
        )
      );
    };
    const pairs = (x) => arr(x).filter((r) => Array.isArray(r) && r.length >= 2);
    const months = pairs(d.by_month);
    render(
      seq,
      el("h1", null, "Stats"),
      el("div", { class: "stats-row" }, stat("documents", fmtInt(d.documents)), stat("first published", fmtDate(d.first_published) || "–"), stat("last published", fmtDate(d.last_published) || "–"), stat("sources", fmtInt(pairs(d.by_source).length)), stat("languages", fmtInt(pairs(d.by_lang).length))),
      months.length ? barChart(months.map((r) => ({ label: monthLabel(r[0]), value: Number(r[1]) || 0, title: `${str(r[0])}: ${fmtInt(r[1])} documents` })), { id: "stats-months", label: "Documents per month", height: 150, maxLabels: 14 }) : null,
      el("div", { class: "tables" }, table("By source", pairs(d.by_source), "source"), table("By language", pairs(d.by_lang), "language"), table("By month", months, "month"))
    );
  }

  // ------------------------------------------------------------------- start

  document.addEventListener("click", (e) => {
    const skip = e.target.closest && e.target.closest("a.skip");
    if (skip) {
      e.preventDefault();
      main.focus();
    }
  });

  window.addEventListener("hashchange", route);
  if (!location.hash || location.hash === "#" || location.hash === "#/") {
    history.replaceState(null, "", "#/signals");
  }
  route();
})();
