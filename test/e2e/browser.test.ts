import { test } from 'tap'
import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { AddressInfo } from 'node:net'
import { chromium } from 'playwright-core'
import { buildApp } from '../helpers/app.ts'
import { localToken } from '../helpers/local-auth.ts'
import { localRows } from '../helpers/ws-client.ts'

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const OUTPUT = fileURLToPath(new URL('../output/', import.meta.url))

test('the console streams rows through its own UI and shows the acks', async (t) => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`)
  const { app, dataDir } = await buildApp(t, { FLUSH_INTERVAL_MS: '200', ENCODER_THREADS: '1' })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const origin = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`

  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] })
  t.teardown(() => browser.close())
  const page = await browser.newPage({ viewport: { width: 1360, height: 1100 } })
  const problems: string[] = []
  page.on('console', (msg) => { if (msg.type() === 'error' || msg.type() === 'warning') problems.push(`${msg.type()}: ${msg.text()}`) })
  page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`))
  page.on('requestfailed', (req) => problems.push(`request failed: ${req.url()}`))
  page.on('request', (req) => { if (!req.url().startsWith(origin) && !req.url().startsWith('ws://127.0.0.1') && !req.url().startsWith('data:')) problems.push(`off-origin request: ${req.url()}`) })

  await page.goto(`${origin}/console`)
  t.equal(await page.title(), 'Quiver console')
  t.equal(await page.evaluate(() => typeof (globalThis as unknown as { Arrow?: { tableFromIPC?: unknown } }).Arrow?.tableFromIPC), 'function', 'apache-arrow loaded from the gateway')

  // An admin token pasted by hand: connect, then create the topic through the page.
  await page.fill('#token', localToken(dataDir, ['admin'], { subject: 'browser-admin' }))
  await page.click('#connect')
  await page.waitForSelector('#auth-status.ok')
  t.match(await page.textContent('#who'), /^browser-admin · .*admin/)
  await page.fill('#topic', 'browser_rows')
  await page.click('#create-topic')
  await page.waitForSelector('#schema .field')
  t.same(await page.$$eval('#schema .field b', (els) => els.map((e) => e.textContent)), ['id', 'ts', 'sensor', 'value', 'ok'])

  await page.click('#tail-toggle')
  await page.waitForSelector('#tail-status.ok')
  await page.fill('#rate', '3000')
  await page.fill('#mps', '10')
  await page.click('#start')
  await page.waitForSelector('#stream-status.busy')
  await page.waitForFunction(() => Number(document.getElementById('acked-rows')!.textContent!.replace(/,/g, '')) >= 6000, null, { timeout: 30_000 })
  await page.waitForFunction(() => document.querySelectorAll('#tail-table tbody tr:not(:has(.empty))').length > 0)
  await page.waitForTimeout(1200) // a few chart ticks, so the screenshot shows a run in progress
  mkdirSync(OUTPUT, { recursive: true })
  await page.screenshot({ path: join(OUTPUT, 'console.png'), fullPage: true })
  await page.click('#stop')
  await page.waitForSelector('#stream-status.idle', { timeout: 30_000 })

  const acked = Number((await page.textContent('#acked-rows'))!.replace(/,/g, ''))
  t.ok(acked >= 6000, `the page saw ${acked} acked rows`)
  t.equal(await page.textContent('#errors'), '0')
  const rows = localRows(dataDir, 'browser_rows')
  t.equal(rows.length, acked, 'exactly the acked rows are in Parquet')
  t.same(rows.map((r) => Number(r.id)).sort((a, b) => a - b), Array.from({ length: acked }, (_, i) => i + 1), 'ids 1…n, none lost or doubled')

  t.same(await page.$$eval('#tail-table th', (els) => els.map((e) => e.textContent)), ['id', 'ts', 'sensor', 'value', 'ok'], 'live tail shows the topic')

  // The local provider hands this loopback page a short-lived writer token.
  t.equal(await page.isVisible('#local-token'), true, 'local token offered on loopback')
  await page.click('#local-token')
  await page.waitForFunction(() => /^console · .*write/.test(document.getElementById('who')!.textContent!))

  await page.click('#tail-toggle')
  t.same(problems, [], 'no console errors, nothing loaded from elsewhere')
})

test('the local token is refused off loopback names and without the console header', async (t) => {
  const { app } = await buildApp(t)
  const ok = await app.inject({ url: '/console/local-token', headers: { 'x-quiver-console': '1', host: '127.0.0.1:3000' }, remoteAddress: '127.0.0.1' })
  t.equal(ok.statusCode, 200)
  t.match(ok.json(), { token: /^ey/, expiresAt: /^\d{4}-/ })
  t.equal(ok.headers['cache-control'], 'no-store')

  const cases: Array<[string, Record<string, string>, string, string]> = [
    ['rebinding', { 'x-quiver-console': '1', host: 'evil.example:3000' }, '127.0.0.1', 'Host is not a loopback name'],
    ['no header', { host: 'localhost:3000' }, '127.0.0.1', 'missing X-Quiver-Console header'],
    ['proxied', { 'x-quiver-console': '1', host: 'localhost', 'x-forwarded-for': '203.0.113.9' }, '127.0.0.1', 'forwarded by a proxy'],
    ['remote', { 'x-quiver-console': '1', host: 'localhost' }, '203.0.113.9', 'not a loopback connection'],
    ['cross-site', { 'x-quiver-console': '1', host: 'localhost', 'sec-fetch-site': 'cross-site' }, '127.0.0.1', 'cross-site request']
  ]
  for (const [name, headers, remoteAddress, why] of cases) {
    const res = await app.inject({ url: '/console/local-token', headers, remoteAddress })
    t.same(res.json(), { statusCode: 403, code: 'QUIVER_LOCAL_ONLY', error: 'Forbidden', message: `Console tokens are only handed out to loopback requests: ${why}` }, name)
  }
  const info = await app.inject({ url: '/console/info', headers: { host: 'evil.example' }, remoteAddress: '127.0.0.1' })
  t.same(info.json(), { localToken: false })
  const page = await app.inject({ url: '/console/../../package.json' })
  t.equal(page.statusCode, 404, 'only the allowlisted files are served')
})
