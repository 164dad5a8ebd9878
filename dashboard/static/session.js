"use strict";

// The session page's charts, drawn with uPlot from /api/sessions/{id}/traces: heart rate with
// the zones as bands and the prescribed ceiling as a line, DFA α1 with its 0.75 threshold,
// steps per minute, and the raw signal of the range the reader zooms into (decimated on the
// server to min and max per pixel). The page's tables hold every number without this script.
(() => {
  const hrContainer = document.getElementById("hr-chart");
  if (!hrContainer || typeof uPlot === "undefined") return;

  const LIVE_REFRESH_MS = 2000;
  const HR_HEIGHT_PX = 320;
  const SHORT_HEIGHT_PX = 200;
  const HRVT1_ALPHA1 = 0.75;
  const ZONE_FILLS = ["#f1f5f9", "#e0f2fe", "#dcfce7", "#fef3c7", "#fee2e2"];
  const lang = document.documentElement.lang || "en";
  const timeZone = hrContainer.dataset.timeZone || "UTC";
  const words = JSON.parse(hrContainer.dataset.words || "{}");
  const zoneLowerBpm = JSON.parse(hrContainer.dataset.zones || "[]");
  const live = hrContainer.dataset.live === "true";
  const statusLine = document.getElementById("hr-chart-status");
  const latestOutput = document.getElementById("hr-latest");
  const clock = new Intl.DateTimeFormat(lang, { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23", timeZone });
  const numberFormat = new Intl.NumberFormat(lang, { maximumFractionDigits: 2 });
  const fill = (template, values) => template.replace(/\{(\w+)\}/g, (_m, key) => values[key]);
  const clockText = (t_s) => (t_s === null || t_s === undefined ? "—" : clock.format(new Date(t_s * 1000)));
  const shown = (value, unit) => (value === null || value === undefined ? "—" : `${numberFormat.format(value)}${unit}`);
  const widthOf = (element) => Math.max(280, element.clientWidth);
  const axis = { stroke: "#475569", grid: { stroke: "#e2e8f0", width: 1 }, ticks: { stroke: "#cbd5e1", width: 1 } };
  const timeAxis = { ...axis, values: (_u, ticks_s) => ticks_s.map(clockText) };
  const charts = [];

  // A horizontal line (the ceiling, α1's threshold) and the zone bands, drawn under the series.
  function bandsAndLines({ bands = [], lines = [] }) {
    return (u) => {
      const { ctx } = u;
      const { left, top, width, height } = u.bbox;
      ctx.save();
      bands.forEach(([low, high], i) => {
        const y0 = u.valToPos(high ?? u.scales.y.max, "y", true);
        const y1 = u.valToPos(low, "y", true);
        ctx.fillStyle = ZONE_FILLS[i % ZONE_FILLS.length];
        ctx.fillRect(left, Math.max(top, y0), width, Math.min(top + height, y1) - Math.max(top, y0));
      });
      lines.forEach(({ value, colour }) => {
        if (value === null || value === undefined) return;
        const y = u.valToPos(value, "y", true);
        ctx.strokeStyle = colour;
        ctx.setLineDash([8, 6]);
        ctx.lineWidth = 2 * devicePixelRatio;
        ctx.beginPath();
        ctx.moveTo(left, y);
        ctx.lineTo(left + width, y);
        ctx.stroke();
      });
      ctx.restore();
    };
  }

  function makeChart(container, options, data) {
    const chart = new uPlot({ width: widthOf(container), ...options }, data, container);
    charts.push([chart, container]);
    return chart;
  }

  function heartRateChart(traces) {
    const zones = zoneLowerBpm.map((low, i) => [low, zoneLowerBpm[i + 1] ?? null]);
    return makeChart(
      hrContainer,
      {
        height: HR_HEIGHT_PX,
        scales: { x: { time: true }, y: { range: (_u, min, max) => [Math.max(0, Math.floor((min - 10) / 10) * 10), Math.ceil((Math.max(max, traces.ceiling_bpm ?? 0) + 10) / 10) * 10] } },
        series: [
          { label: words.time, value: (_u, t_s) => clockText(t_s) },
          { label: words.hr, stroke: "#0f766e", width: 2, spanGaps: false, value: (_u, v) => shown(v, " bpm") },
        ],
        axes: [timeAxis, { ...axis, label: "bpm", size: 56 }],
        hooks: {
          drawClear: [bandsAndLines({ bands: zones, lines: [{ value: traces.ceiling_bpm, colour: "#b91c1c" }] })],
          setSelect: [(u) => zoomTo(u)],
        },
      },
      [traces.heart_rate.t_s, traces.heart_rate.bpm],
    );
  }

  function alpha1Chart(alpha1) {
    const container = document.getElementById("alpha1-chart");
    if (!container || !alpha1) return null;
    return makeChart(
      container,
      {
        height: SHORT_HEIGHT_PX,
        scales: { x: { time: true }, y: { range: [0, 1.6] } },
        series: [
          { label: words.time, value: (_u, t_s) => clockText(t_s) },
          { label: words.alpha1, stroke: "#7c3aed", width: 2, value: (_u, v) => shown(v, "") },
        ],
        axes: [timeAxis, { ...axis, label: "α1", size: 48 }],
        hooks: { drawClear: [bandsAndLines({ lines: [{ value: HRVT1_ALPHA1, colour: "#b45309" }] })] },
      },
      [alpha1.t_s, alpha1.alpha1],
    );
  }

  function cadenceChart(cadence) {
    const container = document.getElementById("cadence-chart");
    if (!container || !cadence) return null;
    return makeChart(
      container,
      {
        height: SHORT_HEIGHT_PX,
        scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(120, Math.ceil(max / 20) * 20)] } },
        series: [
          { label: words.time, value: (_u, t_s) => clockText(t_s) },
          {
            label: words.cadence, stroke: "#0369a1", fill: "rgba(3, 105, 161, 0.4)",
            paths: uPlot.paths.bars({ size: [0.8, 40], align: 1 }), points: { show: false }, value: (_u, v) => shown(v, ""),
          },
        ],
        axes: [timeAxis, { ...axis, size: 48 }],
      },
      [cadence.t_s, cadence.spm],
    );
  }

  // The raw signal for the heart-rate chart's visible range, fetched again on every zoom.
  const rawContainer = document.getElementById("raw-chart");
  const rawSelect = document.getElementById("raw-signal");
  const rawStatus = document.getElementById("raw-status");
  let rawChart = null;
  let range_s = null;

  async function drawRaw() {
    if (!rawContainer || !rawSelect.value) return;
    const [signal, channel] = rawSelect.value.split(":");
    const params = new URLSearchParams({ channel, points: String(Math.round(widthOf(rawContainer))) });
    if (range_s) {
      params.set("from_ns", String(Math.floor(range_s[0] * 1e9)));
      params.set("to_ns", String(Math.ceil(range_s[1] * 1e9)));
    }
    try {
      const raw = await fetchJson(`${hrContainer.dataset.signalUrl}${signal}?${params}`);
      const t_s = raw.t_ns.map((t_ns) => t_ns / 1e9);
      const unit = ` ${raw.unit}`;
      if (rawChart) rawChart.destroy();
      rawChart = new uPlot(
        {
          width: widthOf(rawContainer),
          height: SHORT_HEIGHT_PX,
          scales: { x: { time: true } },
          series: [
            { label: words.time, value: (_u, v) => clockText(v) },
            { label: `${words.raw} (${words.min})`, stroke: "#334155", width: 1, value: (_u, v) => shown(v, unit) },
            { label: `${words.raw} (${words.max})`, stroke: "#64748b", width: 1, value: (_u, v) => shown(v, unit) },
          ],
          axes: [timeAxis, { ...axis, label: raw.unit, size: 64 }],
        },
        [t_s, raw.min, raw.max],
        rawContainer,
      );
      window.dosisRawChart = rawChart; // a handle for browser tests and debugging
      rawStatus.textContent = t_s.length
        ? fill(words.zoomed, { from: clockText(t_s[0]), to: clockText(t_s[t_s.length - 1]) })
        : words.empty;
    } catch (error) {
      rawStatus.textContent = `${words.error}: ${error.message}`;
    }
  }

  function zoomTo(u) {
    if (u.select.width < 2) return;
    range_s = [u.posToVal(u.select.left, "x"), u.posToVal(u.select.left + u.select.width, "x")];
    drawRaw();
  }

  async function fetchJson(url) {
    const response = await fetch(url, { headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(`the server answered ${response.status}`);
    return response.json();
  }

  function describe(series) {
    const seconds = series.t_s.length;
    const valid = series.bpm.filter((bpm) => bpm !== null).length;
    statusLine.textContent = seconds ? fill(words.status, { seconds, valid }) : words.empty;
    if (latestOutput) latestOutput.textContent = seconds ? shown(series.bpm[seconds - 1], " bpm") : "—";
  }

  let hrChart = null;
  async function refresh() {
    try {
      const traces = await fetchJson(hrContainer.dataset.tracesUrl);
      if (hrChart === null) {
        hrChart = heartRateChart(traces);
        window.dosisChart = hrChart; // a handle for browser tests and debugging
        alpha1Chart(traces.alpha1);
        cadenceChart(traces.cadence);
        hrContainer.addEventListener("dblclick", () => {
          range_s = null;
          drawRaw();
        });
        drawRaw();
      } else {
        hrChart.setData([traces.heart_rate.t_s, traces.heart_rate.bpm]);
      }
      describe(traces.heart_rate);
    } catch (error) {
      statusLine.textContent = `${words.error}: ${error.message}`;
    }
    if (live) window.setTimeout(refresh, LIVE_REFRESH_MS);
  }

  if (rawSelect) rawSelect.addEventListener("change", drawRaw);
  new ResizeObserver(() => {
    charts.forEach(([chart, container]) => chart.setSize({ width: widthOf(container), height: chart.height }));
  }).observe(hrContainer);
  refresh();
})();
