/* global location, history */
import { Api } from './api.js'
import { GENERATED_FIELDS } from './arrow-data.js'
import { RateChart, compact } from './chart.js'
import { Producer } from './producer.js'
import { TailView } from './tail.js'
import { log, setPill } from './ui.js'
import { setupUpload } from './upload.js'

const $ = (id) => document.getElementById(id)
const state = { token: sessionStorage.getItem('quiver.token') ?? '', roles: null, topics: [], ackedRows: 0, ackedMsgs: 0, errors: 0, secRows: 0, secBytes: 0 }
const api = new Api(() => state.token)
const producer = new Producer()
const tail = new TailView($('tail-table'))
const chart = new RateChart($('chart'))

const topicName = () => $('topic').value.trim()

function requireTopic () {
  const name = topicName()
  if (!/^[a-z][a-z0-9_]{0,62}$/.test(name)) throw new Error('Choose a topic name: lowercase letters, digits and _, starting with a letter')
  if (!state.token) throw new Error('Paste a token (or open the console link the gateway printed at startup) first')
  return name
}

async function connect () {
  state.token = $('token').value.trim()
  sessionStorage.setItem('quiver.token', state.token)
  try {
    const me = await api.whoami()
    state.roles = me.roles
    setPill($('auth-status'), 'ok', 'connected')
    $('who').textContent = `${me.username || me.sub} · ${me.roles.join(', ') || 'no roles'}`
    log('ok', `Signed in as ${me.username || me.sub} (${me.roles.join(', ')})`)
    await loadTopics()
  } catch (err) {
    state.roles = null
    setPill($('auth-status'), 'err', err.status === 401 ? 'invalid token' : 'error')
    $('who').textContent = ''
    log('err', `Sign-in failed: ${err.code ?? ''} ${err.message}`)
  }
}

async function loadTopics () {
  try {
    state.topics = await api.listTopics()
  } catch (err) {
    log('err', `Listing topics failed: ${err.message}`)
    return
  }
  $('topic-list').replaceChildren(...state.topics.map((t) => Object.assign(document.createElement('option'), { value: t.name })))
  if (!topicName() && state.topics.length) $('topic').value = state.topics[0].name
  showSchema()
}

function showSchema () {
  const topic = state.topics.find((t) => t.name === topicName())
  const fields = topic?.schema.fields
  const box = $('schema')
  box.replaceChildren()
  if (!fields) {
    box.textContent = topicName() ? 'New topic: created with the schema of the first stream.' : ''
    box.className = 'schema hint'
    return
  }
  box.className = 'schema'
  for (const f of fields) {
    const el = document.createElement('span')
    el.className = 'field'
    el.innerHTML = '<b></b> <span></span>'
    el.children[0].textContent = f.name
    el.children[1].textContent = f.type + (f.nullable ? '' : ' not null')
    box.appendChild(el)
  }
}

// Creating a topic needs admin. Say so, with the roles whoami reported, instead of a bare 403.
function adminNeeded (roles) {
  const held = roles.length ? `has the role${roles.length > 1 ? 's' : ''} ${roles.join(', ')}` : 'has no role'
  return `Create needs an admin token: this token ${held}. Connect with an admin token to create topics` +
    ' (or just start streaming: a writer\'s first stream creates the topic when the gateway auto-creates topics).'
}

async function createTopic () {
  try {
    const name = requireTopic()
    if (state.roles && !state.roles.includes('admin')) return log('err', adminNeeded(state.roles))
    await api.createTopic(name, GENERATED_FIELDS)
    log('ok', `Created topic ${name}`)
    await loadTopics()
  } catch (err) {
    if (err.status === 403 && state.roles) return log('err', adminNeeded(state.roles))
    log('err', `Create failed: ${err.code ?? ''} ${err.message}`)
  }
}

async function start () {
  try {
    const name = requireTopic()
    const rate = Math.max(1, Number($('rate').value) || 1)
    const mps = Math.min(50, Math.max(1, Number($('mps').value) || 1))
    await producer.startGenerating(name, state.token, { rate, mps })
    log('ok', `Streaming ~${compact(rate)} rows/s to ${name}`)
  } catch (err) {
    log('err', err.message)
  }
}

producer.addEventListener('ack', ({ detail }) => {
  state.ackedRows += detail.rows
  state.ackedMsgs++
  state.secRows += detail.rows
  state.secBytes += detail.bytes
  renderCounters()
})
producer.addEventListener('error', ({ detail }) => {
  state.errors++
  log('err', `seq ${detail.seq}: ${detail.code} ${detail.message}`)
  renderCounters()
})
producer.addEventListener('state', ({ detail }) => {
  const s = detail.state
  const pill = { streaming: 'busy', connecting: 'warn', draining: 'warn', failed: 'err', closed: 'err', idle: 'idle' }[s]
  setPill($('stream-status'), pill, s)
  $('start').disabled = s !== 'idle' && s !== 'closed' && s !== 'failed'
  $('stop').disabled = !$('start').disabled
  if (s === 'closed') log('err', `Stream closed by the gateway: ${detail.code} ${detail.reason || ''}`)
  if (s === 'idle' && detail.code === 1000) { log('ok', `Stream finished: ${state.ackedRows.toLocaleString('en-US')} rows acked in total`); loadTopics() }
})

function renderCounters () {
  $('acked-rows').textContent = state.ackedRows.toLocaleString('en-US')
  $('acked-msgs').textContent = state.ackedMsgs.toLocaleString('en-US')
  $('errors').textContent = String(state.errors)
  $('inflight').textContent = String(producer.inflight)
}

setInterval(() => {
  const mib = state.secBytes / 1048576
  $('rows-rate').textContent = compact(state.secRows)
  $('mib-rate').textContent = mib.toFixed(2)
  chart.push(state.secRows, mib)
  state.secRows = 0
  state.secBytes = 0
  renderCounters()
}, 1000)

tail.addEventListener('status', ({ detail }) => {
  setPill($('tail-status'), detail.state === 'live' ? 'ok' : detail.code === 1000 || detail.code === 1005 ? 'idle' : 'err', detail.state === 'live' ? 'live' : 'off')
  $('tail-toggle').textContent = detail.state === 'live' ? 'Stop tail' : 'Start tail'
  if (detail.state === 'closed' && detail.code !== 1000 && detail.code !== 1005) log('err', `Tail closed: ${detail.code} ${detail.reason || ''}`)
})
tail.addEventListener('rows', ({ detail }) => { $('tail-count').textContent = `${detail.seen.toLocaleString('en-US')} rows seen` })

$('auth').addEventListener('submit', (ev) => { ev.preventDefault(); connect() })
// A name not in the list may be a topic created since (by another client): look again, once typing pauses.
let relist = null
$('topic').addEventListener('input', () => {
  showSchema()
  clearTimeout(relist)
  if (state.token && topicName() && !state.topics.some((t) => t.name === topicName())) relist = setTimeout(loadTopics, 300)
})
$('refresh-topics').addEventListener('click', loadTopics)
$('create-topic').addEventListener('click', createTopic)
$('start').addEventListener('click', start)
$('stop').addEventListener('click', () => producer.stop())
setupUpload({ api, producer, requireTopic, getToken: () => state.token })
$('tail-toggle').addEventListener('click', () => {
  if (tail.running) return tail.stop()
  try { tail.start(requireTopic(), state.token) } catch (err) { log('err', err.message) }
})
for (const tab of document.querySelectorAll('.tab')) {
  tab.addEventListener('click', () => {
    for (const t of document.querySelectorAll('.tab')) { t.classList.toggle('active', t === tab); t.setAttribute('aria-selected', String(t === tab)) }
    for (const p of document.querySelectorAll('.tabpanel')) p.hidden = p.dataset.panel !== tab.dataset.tab
  })
}

// The startup banner's link carries a token in the fragment (#token=…), which never reaches a
// server. Take it, then drop it from the address bar and the history entry.
const linked = new URLSearchParams(location.hash.slice(1)).get('token')
if (linked) {
  history.replaceState(null, '', location.pathname + location.search)
  state.token = linked
}
$('token').value = state.token
if (state.token) connect()
renderCounters()
