// Chart.js (vendored under /console/static/vendor, MIT) with the console's defaults.
const COLORS = ["#2f6fb3", "#1d7a46", "#c2571a", "#7b4bb7", "#b3261e", "#2a8c8c", "#8a6d00", "#5b6675"];

function lib() {
  if (!window.Chart) throw new Error("chart library not loaded");
  window.Chart.defaults.font.family = getComputedStyle(document.documentElement).fontFamily;
  window.Chart.defaults.animation = false;
  return window.Chart;
}

export function barChart(canvas, labels, datasets, { horizontal = false, yLabel } = {}) {
  const Chart = lib();
  return new Chart(canvas, {
    type: "bar",
    data: { labels, datasets: datasets.map((d, i) => ({ backgroundColor: COLORS[i % COLORS.length], ...d })) },
    options: { indexAxis: horizontal ? "y" : "x", responsive: true, maintainAspectRatio: false,
               plugins: { legend: { display: datasets.length > 1 } },
               scales: { y: { beginAtZero: true, title: { display: !!yLabel, text: yLabel } } } },
  });
}

export function lineChart(canvas, labels, datasets) {
  const Chart = lib();
  return new Chart(canvas, {
    type: "line",
    data: { labels, datasets: datasets.map((d, i) => ({ borderColor: COLORS[i % COLORS.length], backgroundColor: COLORS[i % COLORS.length], tension: 0.2, ...d })) },
    options: { responsive: true, maintainAspectRatio: false, scales: { y: { beginAtZero: true } } },
  });
}

export function doughnutChart(canvas, labels, data) {
  const Chart = lib();
  return new Chart(canvas, {
    type: "doughnut",
    data: { labels, datasets: [{ data, backgroundColor: labels.map((_, i) => COLORS[i % COLORS.length]) }] },
    options: { responsive: true, maintainAspectRatio: false, plugins: { legend: { position: "right" } } },
  });
}

// Heat colour for a share in [0, 1] (cohort retention, transition shares); set through CSSOM.
export function heat(el, share) {
  const a = Math.max(0, Math.min(1, share));
  el.style.backgroundColor = `rgba(47, 111, 179, ${0.08 + a * 0.8})`;
  el.style.color = a > 0.55 ? "#fff" : "";
}
