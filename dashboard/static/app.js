"use strict";

// The session heart-rate chart: drawn with uPlot from the JSON API, which sends the same
// 1 Hz series the session summary is computed from. Kept out of the HTML so the pages
// can run under a strict Content-Security-Policy.
(() => {
  const container = document.getElementById("hr-chart");
  if (!container || typeof uPlot === "undefined") return;

  const LIVE_REFRESH_MS = 2000; // until live updates arrive over server-sent events
  const CHART_HEIGHT_PX = 320;
  const seriesUrl = container.dataset.seriesUrl;
  const live = container.dataset.live === "true";
  const statusLine = document.getElementById("hr-chart-status");
  const latestOutput = document.getElementById("hr-latest");
  const tableDetails = document.getElementById("hr-table");
  let chart = null;
  let series = { t_s: [], bpm: [] };

  const utcClock = (t_s) => new Date(t_s * 1000).toISOString().slice(11, 19);
  const bpmText = (hr_bpm) => (hr_bpm === null || hr_bpm === undefined ? "—" : `${Math.round(hr_bpm)} bpm`);
  const chartWidthPx = () => Math.max(280, container.clientWidth);

  // A steady range with some headroom, so a live chart does not jump with every beat.
  function bpmRange(_u, min_bpm, max_bpm) {
    if (!Number.isFinite(min_bpm) || !Number.isFinite(max_bpm)) return [40, 180];
    return [Math.max(0, Math.floor((min_bpm - 10) / 10) * 10), Math.ceil((max_bpm + 10) / 10) * 10];
  }

  function chartOptions() {
    const axis = { stroke: "#475569", grid: { stroke: "#e2e8f0", width: 1 }, ticks: { stroke: "#cbd5e1", width: 1 } };
    return {
      width: chartWidthPx(),
      height: CHART_HEIGHT_PX,
      tzDate: (t_s) => uPlot.tzDate(new Date(t_s * 1000), "Etc/UTC"),
      scales: { y: { range: bpmRange } },
      series: [
        { label: "Time (UTC)", value: (_u, t_s) => (t_s === null ? "—" : utcClock(t_s)) },
        {
          label: "Heart rate",
          stroke: "#0f766e",
          width: 2,
          fill: "rgba(15, 118, 110, 0.08)",
          spanGaps: false, // a gap means no valid reading; never draw a line across it
          value: (_u, hr_bpm) => bpmText(hr_bpm),
        },
      ],
      axes: [
        // 24-hour UTC clock; seconds only when the ticks are less than a minute apart.
        {
          ...axis,
          values: (_u, ticks_s, _axis, _space, step_s) =>
            ticks_s.map((t_s) => utcClock(t_s).slice(0, step_s < 60 ? 8 : 5)),
        },
        { ...axis, label: "bpm", size: 56 },
      ],
    };
  }

  function describe() {
    const seconds = series.t_s.length;
    const withHr = series.bpm.filter((hr_bpm) => hr_bpm !== null).length;
    statusLine.textContent =
      seconds === 0
        ? "No heart rate has been recorded for this session."
        : `${seconds} seconds, ${withHr} of them with a valid heart rate.`;
    if (latestOutput) latestOutput.textContent = seconds ? bpmText(series.bpm[seconds - 1]) : "—";
  }

  function fillTable() {
    const rows = document.createDocumentFragment();
    series.t_s.forEach((t_s, i) => {
      const row = document.createElement("tr");
      const time = document.createElement("td");
      const hr = document.createElement("td");
      time.textContent = utcClock(t_s);
      hr.textContent = bpmText(series.bpm[i]);
      hr.className = "num";
      row.append(time, hr);
      rows.append(row);
    });
    tableDetails.querySelector("tbody").replaceChildren(rows);
  }

  function render() {
    const data = [series.t_s, series.bpm];
    if (chart === null) {
      chart = new uPlot(chartOptions(), data, container);
      window.dosisChart = chart; // a handle for browser tests and debugging
    } else {
      chart.setData(data);
    }
    describe();
    if (tableDetails.open) fillTable();
  }

  async function refresh() {
    try {
      const response = await fetch(seriesUrl, { headers: { Accept: "application/json" } });
      if (!response.ok) throw new Error(`the server answered ${response.status}`);
      series = await response.json();
      render();
    } catch (error) {
      statusLine.textContent = `Could not load the heart rate: ${error.message}`;
    }
    if (live) window.setTimeout(refresh, LIVE_REFRESH_MS);
  }

  tableDetails.addEventListener("toggle", () => {
    if (tableDetails.open) fillTable();
  });
  new ResizeObserver(() => {
    if (chart) chart.setSize({ width: chartWidthPx(), height: CHART_HEIGHT_PX });
  }).observe(container);
  refresh();
})();
