import { createCanvas } from '@napi-rs/canvas'
import { BarController, BarElement, CategoryScale, Chart, LinearScale, Title } from 'chart.js'
import type { Plugin } from 'chart.js'

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Title)

export const CHART_WIDTH = 900
export const CHART_HEIGHT = 420

/** A white page under the chart: a PNG is transparent otherwise, and dark chat themes would hide the text. */
const whitePage: Plugin<'bar'> = {
  id: 'whitePage',
  beforeDraw(chart) {
    const { width, height } = chart
    // chart.js types its context with the DOM's types, which this project does not load.
    const ctx = chart.ctx as unknown as { save(): void; restore(): void; fillRect(x: number, y: number, w: number, h: number): void; fillStyle: string }
    ctx.save()
    ctx.fillStyle = '#ffffff'
    ctx.fillRect(0, 0, width, height)
    ctx.restore()
  },
}

/**
 * Daily spend as a bar chart, rendered on the server to a PNG (Chart.js on @napi-rs/canvas: no
 * browser, no native build; text in the machine's fonts, DejaVu in the image). Labels are MM-DD.
 */
export async function spendChart(daily: ReadonlyArray<{ day: string; usd: number }>, title: string): Promise<Buffer> {
  const canvas = createCanvas(CHART_WIDTH, CHART_HEIGHT)
  const chart = new Chart(canvas.getContext('2d'), {
    type: 'bar',
    data: { labels: daily.map((d) => d.day.slice(5)), datasets: [{ label: 'US dollars', data: daily.map((d) => d.usd), backgroundColor: '#2563eb' }] },
    options: {
      animation: false,
      responsive: false,
      devicePixelRatio: 1,
      plugins: { title: { display: true, text: title, font: { size: 16 } } },
      scales: { y: { beginAtZero: true, ticks: { callback: (v) => `$${Number(v).toFixed(Number(v) < 0.1 && Number(v) !== 0 ? 3 : 2)}` } }, x: { ticks: { autoSkip: true, maxRotation: 0 } } },
    },
    plugins: [whitePage],
  })
  try {
    return await canvas.encode('png')
  } finally {
    chart.destroy()
  }
}
