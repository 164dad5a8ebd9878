"use strict";

// A patient's 12 weeks on one time axis: session load (sRPE bars, TRIMP bars), acute and
// chronic load (lines) on the left axis, pain during, after and the next morning (points,
// 0-10) on the right. Drawn with uPlot from the JSON API (/load and /days share their days);
// the page's own table is the text alternative, so nothing here is needed to read the data.
(() => {
  const container = document.getElementById("patient-chart");
  if (!container || typeof uPlot === "undefined") return;

  const CHART_HEIGHT_PX = 360;
  const statusLine = document.getElementById("patient-chart-status");
  const lang = document.documentElement.lang || "en";
  const numberFormat = new Intl.NumberFormat(lang, { maximumFractionDigits: 1 });
  const dayFormat = new Intl.DateTimeFormat(lang, { day: "numeric", month: "short", timeZone: "UTC" });
  const chartWidthPx = () => Math.max(300, container.clientWidth);
  // The legend's words come from the page (translated there), by series key.
  const words = JSON.parse(container.dataset.words || "{}");
  const word = (key, fallback) => words[key] || fallback;

  const daySeconds = (isoDay) => Date.UTC(+isoDay.slice(0, 4), +isoDay.slice(5, 7) - 1, +isoDay.slice(8, 10)) / 1000;
  const shown = (value, unit) => (value === null || value === undefined ? "—" : `${numberFormat.format(value)}${unit}`);

  const bars = (align) => uPlot.paths.bars({ size: [0.4, 14], align });
  const noLine = () => null;
  const points = (colour) => ({ show: true, size: 8, stroke: colour, fill: colour, width: 1 });

  function chartOptions() {
    const axis = { stroke: "#475569", grid: { stroke: "#e2e8f0", width: 1 }, ticks: { stroke: "#cbd5e1", width: 1 } };
    return {
      width: chartWidthPx(),
      height: CHART_HEIGHT_PX,
      tzDate: (t_s) => uPlot.tzDate(new Date(t_s * 1000), "Etc/UTC"),
      cursor: { points: { show: false } },
      scales: {
        x: { time: true },
        au: { range: (_u, _min, max) => [0, Math.max(10, Math.ceil((max * 1.1) / 10) * 10)] },
        pain: { range: [0, 10] },
      },
      series: [
        { label: word("day", "Day"), value: (_u, t_s) => (t_s === null ? "—" : dayFormat.format(new Date(t_s * 1000))) },
        {
          label: word("srpe", "Session load (sRPE)"), scale: "au", stroke: "#0f766e", fill: "rgba(15, 118, 110, 0.55)",
          paths: bars(-1), points: { show: false }, value: (_u, v) => shown(v, " AU"),
        },
        {
          label: word("trimp", "TRIMP"), scale: "au", stroke: "#64748b", fill: "rgba(100, 116, 139, 0.5)",
          paths: bars(1), points: { show: false }, value: (_u, v) => shown(v, ""),
        },
        { label: word("acute", "Acute load"), scale: "au", stroke: "#b45309", width: 2, value: (_u, v) => shown(v, " AU") },
        {
          label: word("chronic", "Chronic load"), scale: "au", stroke: "#1e3a8a", width: 2, dash: [6, 4],
          value: (_u, v) => shown(v, " AU"),
        },
        { label: word("during", "Pain during"), scale: "pain", stroke: "#b91c1c", paths: noLine, points: points("#b91c1c"), value: (_u, v) => shown(v, "/10") },
        { label: word("after", "Pain after"), scale: "pain", stroke: "#7c3aed", paths: noLine, points: points("#7c3aed"), value: (_u, v) => shown(v, "/10") },
        { label: word("morning", "Pain next morning"), scale: "pain", stroke: "#0369a1", paths: noLine, points: points("#0369a1"), value: (_u, v) => shown(v, "/10") },
      ],
      axes: [
        { ...axis, values: (_u, ticks_s) => ticks_s.map((t_s) => dayFormat.format(new Date(t_s * 1000))) },
        { ...axis, scale: "au", label: "AU", size: 56 },
        { ...axis, scale: "pain", side: 1, label: word("pain_axis", "Pain 0–10"), size: 48, grid: { show: false } },
      ],
    };
  }

  async function fetchJson(url) {
    const response = await fetch(url, { headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(`${url}: the server answered ${response.status}`);
    return response.json();
  }

  async function draw() {
    try {
      const [load, days] = await Promise.all([fetchJson(container.dataset.loadUrl), fetchJson(container.dataset.daysUrl)]);
      if (load.days.join() !== days.days.join()) throw new Error("the load and the pain are for different days");
      const t_s = load.days.map(daySeconds);
      const data = [
        t_s,
        load.daily_au.map((au, i) => (days.sessions[i] ? au : null)),
        days.trimp_banister,
        load.acute_au,
        load.chronic_au,
        days.pain_during,
        days.pain_after,
        days.pain_next_morning,
      ];
      const chart = new uPlot(chartOptions(), data, container);
      window.dosisPatientChart = chart; // a handle for browser tests and debugging
      const sessions = days.sessions.reduce((sum, n) => sum + n, 0);
      statusLine.textContent = (container.dataset.statusTemplate || "{days} days, {sessions} sessions.")
        .replace("{days}", String(t_s.length)).replace("{sessions}", String(sessions));
      new ResizeObserver(() => chart.setSize({ width: chartWidthPx(), height: CHART_HEIGHT_PX })).observe(container);
    } catch (error) {
      statusLine.textContent = `${word("error", "Could not draw the chart")}: ${error.message}`;
    }
  }

  draw();
})();
