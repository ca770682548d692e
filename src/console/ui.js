// Small DOM helpers shared by the console's modules.

const MAX_LOG = 200

export function setPill (el, kind, text) {
  el.className = 'pill ' + kind
  el.textContent = text
}

/** Newest-first event log; `kind` is 'ok' or 'err'. */
export function log (kind, text) {
  const list = document.getElementById('log')
  const li = document.createElement('li')
  const time = document.createElement('time')
  time.textContent = new Date().toLocaleTimeString()
  const msg = document.createElement('span')
  msg.className = kind
  msg.textContent = text
  li.append(time, msg)
  list.insertBefore(li, list.firstChild)
  while (list.children.length > MAX_LOG) list.lastChild.remove()
}
