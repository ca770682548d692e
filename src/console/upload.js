import { ConvertError } from './columns.js'
import { fileToTable } from './file-table.js'
import { log } from './ui.js'

const $ = (id) => document.getElementById(id)
const fmt = (n) => n.toLocaleString('en-US')
const plural = (n, word) => `${fmt(n)} ${word}${n === 1 ? '' : 's'}`

function status (kind, text) {
  const el = $('upload-status')
  el.className = 'upload-status ' + kind
  el.textContent = text
}

/**
 * 64 bits of FNV-1a style hashing, as hex: names a file in its keys (the gateway compares bodies
 * itself). Not crypto.subtle: it exists only in secure contexts, and the console may be served over
 * plain http behind a proxy.
 */
function digest (text) {
  let a = 0x811c9dc5
  let b = 0x9747b28c
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    a = Math.imul(a ^ c, 16777619)
    b = Math.imul(b ^ c, 2246822507) ^ (b >>> 13)
  }
  return (a >>> 0).toString(16).padStart(8, '0') + (b >>> 0).toString(16).padStart(8, '0')
}

/**
 * Idempotency keys of a file's messages: the file (name, size, last modified) and the slicing
 * name each message, so sending the same file again stores nothing twice: the gateway replays
 * the acks of what it stored (README "Exactly-once over WebSocket").
 */
export function fileKeys (file, rowsPer) {
  const base = `console-${digest(JSON.stringify([file.name, file.size, file.lastModified, rowsPer]))}`
  return (index) => `${base}-${index}`
}

/**
 * The "Upload file" tab: converts the chosen (or dropped) file in the page to the topic's schema,
 * streams it over the producer's socket and says, in the panel, how it went: rows acked, or the
 * file, line and field that stopped the conversion (nothing is sent then).
 */
export function setupUpload ({ api, producer, requireTopic, getToken }) {
  let converting = false
  const refresh = () => { $('send-file').disabled = converting || producer.busy || !$('file').files.length }

  function chosen () {
    const f = $('file').files[0]
    $('file-label').textContent = f ? `${f.name} · ${(f.size / 1048576).toFixed(2)} MiB` : 'Drop a CSV, NDJSON or Arrow file here, or click to choose'
    $('upload-progress').value = 0
    status('idle', f ? 'Ready to send.' : '')
    refresh()
  }

  async function send () {
    const file = $('file').files[0]
    if (!file) return
    converting = true
    refresh()
    const started = performance.now()
    try {
      const topic = requireTopic()
      status('busy', `Converting ${file.name}…`)
      const existing = (await api.listTopics()).find((t) => t.name === topic)
      const { table, format, inferred } = await fileToTable(file, existing?.schema.fields ?? null)
      const rowsPer = Math.max(1, Number($('upload-batch').value) || 10000)
      const how = inferred ? 'types inferred, the topic is created from them' : existing ? `converted to ${topic}'s schema` : 'sent as it is'
      log('ok', `${file.name}: ${format}, ${plural(table.numRows, 'row')}, ${table.schema.fields.length} columns (${how})`)
      status('busy', `Sending ${plural(table.numRows, 'row')} of ${file.name}…`)
      converting = false
      const keyOf = $('upload-keys').checked ? fileKeys(file, rowsPer) : undefined
      const r = await producer.sendFile(topic, getToken(), table, rowsPer, (p) => { $('upload-progress').value = p }, keyOf)
      const secs = ((performance.now() - started) / 1000).toFixed(1)
      if (r.acked === table.numRows && r.rejected === 0) {
        const replays = r.replayed ? `, ${fmt(r.replayed)} replayed (already stored, not stored again)` : ''
        status('ok', `✓ ${file.name}: ${plural(r.acked, 'row')} acked in ${plural(r.messages, 'message')}${replays} (${secs} s)`)
        log('ok', `${file.name}: all ${plural(r.acked, 'row')} stored in ${topic}`)
      } else {
        const why = r.rejected ? `${plural(r.rejected, 'message')} rejected (see Events)` : `${plural(r.messages - r.answered, 'message')} unanswered: the connection closed`
        status('err', `${file.name}: ${fmt(r.acked)} of ${plural(table.numRows, 'row')} acked; ${why}`)
      }
    } catch (err) {
      const text = err instanceof ConvertError ? `${err.message}. Nothing was sent.` : `Upload of ${file.name} failed: ${err.code ? err.code + ' ' : ''}${err.message}`
      status('err', text)
      log('err', text)
    } finally {
      converting = false
      refresh()
    }
  }

  const drop = $('drop')
  drop.addEventListener('dragover', (ev) => { ev.preventDefault(); drop.classList.add('over') })
  drop.addEventListener('dragleave', () => drop.classList.remove('over'))
  drop.addEventListener('drop', (ev) => {
    ev.preventDefault()
    drop.classList.remove('over')
    if (!ev.dataTransfer.files.length) return
    $('file').files = ev.dataTransfer.files
    chosen()
  })
  $('file').addEventListener('change', chosen)
  $('send-file').addEventListener('click', send)
  producer.addEventListener('state', refresh)
}
