/* global ResizeObserver, matchMedia, devicePixelRatio, getComputedStyle */
// Hand-drawn two-series line chart: rows/s (left axis) and MiB/s (right axis) over the last minute.

const SAMPLES = 60

export class RateChart {
  constructor (canvas) {
    this.canvas = canvas
    this.rows = new Array(SAMPLES).fill(0)
    this.mib = new Array(SAMPLES).fill(0)
    new ResizeObserver(() => this.draw()).observe(canvas)
    matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => this.draw())
  }

  push (rowsPerSec, mibPerSec) {
    this.rows.push(rowsPerSec); this.rows.shift()
    this.mib.push(mibPerSec); this.mib.shift()
    this.draw()
  }

  draw () {
    const { canvas } = this
    const dpr = devicePixelRatio || 1
    const w = canvas.clientWidth
    const h = canvas.clientHeight
    if (!w || !h) return
    canvas.width = Math.round(w * dpr)
    canvas.height = Math.round(h * dpr)
    const ctx = canvas.getContext('2d')
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0)
    ctx.clearRect(0, 0, w, h)
    const css = getComputedStyle(document.documentElement)
    const color = (name) => css.getPropertyValue(name).trim()
    const pad = { l: 64, r: 64, t: 22, b: 22 }
    const plotW = w - pad.l - pad.r
    const plotH = h - pad.t - pad.b
    const rowsMax = niceMax(Math.max(...this.rows))
    const mibMax = niceMax(Math.max(...this.mib))

    ctx.font = '11px system-ui, sans-serif'
    ctx.lineWidth = 1
    for (let i = 0; i <= 5; i++) {
      const y = pad.t + plotH - (plotH * i) / 5
      ctx.strokeStyle = color('--border')
      ctx.beginPath(); ctx.moveTo(pad.l, y + 0.5); ctx.lineTo(pad.l + plotW, y + 0.5); ctx.stroke()
      ctx.fillStyle = color('--a'); ctx.textAlign = 'right'; ctx.textBaseline = 'middle'
      ctx.fillText(compact((rowsMax * i) / 5), pad.l - 8, y)
      ctx.fillStyle = color('--b'); ctx.textAlign = 'left'
      ctx.fillText(((mibMax * i) / 5).toFixed(mibMax < 4 ? 2 : 1), pad.l + plotW + 8, y)
    }
    ctx.fillStyle = color('--muted'); ctx.textBaseline = 'top'
    ctx.textAlign = 'left'; ctx.fillText('−60 s', pad.l, pad.t + plotH + 6)
    ctx.textAlign = 'right'; ctx.fillText('now', pad.l + plotW, pad.t + plotH + 6)

    const series = (values, max, stroke) => {
      const x = (i) => pad.l + (plotW * i) / (SAMPLES - 1)
      const y = (v) => pad.t + plotH - (plotH * v) / max
      ctx.beginPath()
      values.forEach((v, i) => (i ? ctx.lineTo(x(i), y(v)) : ctx.moveTo(x(i), y(v))))
      ctx.strokeStyle = stroke; ctx.lineWidth = 2; ctx.lineJoin = 'round'; ctx.stroke()
      ctx.lineTo(x(SAMPLES - 1), pad.t + plotH); ctx.lineTo(x(0), pad.t + plotH); ctx.closePath()
      ctx.globalAlpha = 0.1; ctx.fillStyle = stroke; ctx.fill(); ctx.globalAlpha = 1
    }
    series(this.rows, rowsMax, color('--a'))
    series(this.mib, mibMax, color('--b'))

    ctx.textBaseline = 'top'; ctx.textAlign = 'left'; ctx.font = '600 11px system-ui, sans-serif'
    legend(ctx, pad.l, 2, color('--a'), 'rows / s')
    legend(ctx, pad.l + 90, 2, color('--b'), 'MiB / s')
  }
}

function legend (ctx, x, y, stroke, text) {
  ctx.fillStyle = stroke
  ctx.fillRect(x, y + 4, 14, 3)
  ctx.fillText(text, x + 20, y)
}

function niceMax (v) {
  if (v <= 0) return 1
  const p = 10 ** Math.floor(Math.log10(v))
  for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p
  return 10 * p
}

export function compact (n) {
  if (n >= 1e6) return (n / 1e6).toFixed(n >= 1e7 ? 0 : 1) + 'M'
  if (n >= 1e3) return (n / 1e3).toFixed(n >= 1e4 ? 0 : 1) + 'k'
  return String(Math.round(n))
}
