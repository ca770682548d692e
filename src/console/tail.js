import { openSocket } from './api.js'

const A = globalThis.Arrow
const MAX_ROWS = 100

/** Live tail of a topic: each binary message is one Arrow IPC stream, rendered newest first. */
export class TailView extends EventTarget {
  constructor (tableEl) {
    super()
    this.tableEl = tableEl
    this.ws = null
    this.seen = 0
    this.columns = null
    this.renderEmpty('Start the tail to see rows as the gateway accepts them.')
  }

  get running () { return this.ws !== null }

  start (topic, token) {
    this.stop()
    this.seen = 0
    this.columns = null
    this.renderEmpty('Waiting for rows…')
    const ws = openSocket(`/v1/topics/${encodeURIComponent(topic)}/tail`, token)
    this.ws = ws
    ws.onopen = () => this.emit('status', { state: 'live' })
    ws.onmessage = (ev) => this.onBatch(new Uint8Array(ev.data))
    ws.onclose = (ev) => {
      if (this.ws === ws) this.ws = null
      this.emit('status', { state: 'closed', code: ev.code, reason: ev.reason })
    }
  }

  stop () {
    if (this.ws) {
      const ws = this.ws
      this.ws = null
      ws.close(1000, 'stopped')
    }
  }

  onBatch (bytes) {
    const table = A.tableFromIPC(bytes)
    const names = table.schema.fields.map((f) => f.name)
    if (!this.columns || this.columns.join() !== names.join()) {
      this.columns = names
      this.tableEl.tHead.innerHTML = ''
      const tr = this.tableEl.tHead.insertRow()
      for (const n of names) tr.appendChild(Object.assign(document.createElement('th'), { textContent: n }))
      this.tableEl.tBodies[0].innerHTML = ''
    }
    const body = this.tableEl.tBodies[0]
    const rows = table.toArray()
    // Only the newest MAX_ROWS matter: skip building rows that would be trimmed at once.
    for (const row of rows.slice(-MAX_ROWS)) {
      const tr = document.createElement('tr')
      tr.className = 'fresh'
      for (const n of names) {
        const v = row[n]
        const td = document.createElement('td')
        if (v === null || v === undefined) { td.textContent = 'null'; td.className = 'null' } else td.textContent = format(table.schema.fields.find((f) => f.name === n).type, v)
        tr.appendChild(td)
      }
      body.insertBefore(tr, body.firstChild)
    }
    while (body.rows.length > MAX_ROWS) body.deleteRow(body.rows.length - 1)
    this.seen += table.numRows
    this.emit('rows', { rows: table.numRows, seen: this.seen })
  }

  renderEmpty (text) {
    this.tableEl.tHead.innerHTML = ''
    this.tableEl.tBodies[0].innerHTML = '<tr><td class="empty"></td></tr>'
    this.tableEl.tBodies[0].rows[0].cells[0].textContent = text
  }

  emit (type, detail) { this.dispatchEvent(new CustomEvent(type, { detail })) }
}

function format (type, v) {
  if (A.DataType.isTimestamp(type)) return new Date(Number(v)).toISOString().replace('T', ' ').replace('Z', '')
  if (typeof v === 'number' && !Number.isInteger(v)) return v.toFixed(3)
  if (typeof v === 'object') return JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? String(x) : x))
  return String(v)
}
