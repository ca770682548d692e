import t from 'tap'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { request } from 'undici'
import { startFaultProxy } from './fault-proxy.ts'

t.test('fault proxy forwards, counts and injects each fault', async (t) => {
  const target = createServer((req, res) => res.end(`hello ${req.url}`))
  await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve))
  t.teardown(() => target.close())
  const proxy = await startFaultProxy(t, `http://127.0.0.1:${(target.address() as AddressInfo).port}`)

  const ok = await request(`${proxy.url}/a`)
  t.equal(await ok.body.text(), 'hello /a')

  proxy.mode({ status: 500, body: 'boom' })
  const failed = await request(`${proxy.url}/b`)
  t.equal(failed.statusCode, 500)
  t.equal(await failed.body.text(), 'boom')

  proxy.mode('slowdown')
  const slow = await request(`${proxy.url}/c`)
  t.equal(slow.statusCode, 503)
  t.match(await slow.body.text(), /<Code>SlowDown<\/Code>/)

  proxy.mode('reset')
  await t.rejects(request(`${proxy.url}/d`))

  proxy.mode('stall')
  await t.rejects(request(`${proxy.url}/e`, { headersTimeout: 200 }), { code: 'UND_ERR_HEADERS_TIMEOUT' })

  proxy.mode('refuse')
  await t.rejects(request(`${proxy.url}/f`, { reset: true }))

  const seen: string[] = []
  proxy.mode({ answer: async ({ method, path, status }) => { seen.push(`${method} ${path} ${status}`); return path === '/h' ? 'drop' : 'pass' } })
  const held = await request(`${proxy.url}/g`, { reset: true })
  t.equal(await held.body.text(), 'hello /g')
  await t.rejects(request(`${proxy.url}/h`, { reset: true }))
  t.same(seen, ['GET /g 200', 'GET /h 200'], 'the hook saw both answers, the target had handled both')

  proxy.mode('pass')
  const back = await request(`${proxy.url}/i`, { reset: true })
  t.equal(await back.body.text(), 'hello /i')
  t.same(proxy.requests.map((r) => r.path), ['/a', '/b', '/c', '/d', '/e', '/g', '/h', '/i'])
})
