import { test } from 'tap'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { startGateway, type Gateway } from '../helpers/gateway.ts'
import { localToken } from '../helpers/local-auth.ts'
import { localRows } from '../helpers/ws-client.ts'
import { OUTPUT, openPage, pageNumber } from './browser-helpers.ts'
import { waitFor } from '../helpers/wait.ts'

/** The console link the startup banner printed: `{url}/console#token=<jwt>`. */
async function bannerLink (gw: Gateway): Promise<string> {
  const link = () => /^\s*(http:\/\/\S+\/console#token=\S+)$/m.exec(gw.stdout())?.[1]
  await waitFor(() => link() !== undefined, 'a console link in the banner', { timeoutMs: 30_000, everyMs: 50 })
    .catch((err: Error) => { throw new Error(`${err.message}; the gateway printed:\n${gw.stdout()}`) })
  return link()!
}

test('the banner\'s console link signs the page in; the page streams rows and shows the acks', async (t) => {
  // A real gateway process: the banner is what `npm start` prints on its terminal.
  const gw = await startGateway(t, { FLUSH_INTERVAL_MS: '200', ENCODER_THREADS: '1', LOG_LEVEL: 'warn' })
  const origin = gw.url
  const link = await bannerLink(gw)
  const token = link.slice(link.indexOf('#token=') + 7)
  t.equal(link, `${origin}/console#token=${token}`)
  const claims = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString())
  t.equal(claims.exp - claims.iat, 3600, 'CONSOLE_LINK_TTL_S (default 3600) bounds the link token')

  const { page, problems } = await openPage(t, origin)
  const sent: string[] = []
  page.on('request', (req) => sent.push(req.url() + JSON.stringify(req.headers())))
  await page.goto(link)
  t.equal(await page.title(), 'Quiver console')
  await page.waitForSelector('#auth-status.ok')
  t.match(await page.textContent('#who'), /^local-console · .*admin/, 'signed in with the link\'s admin token')
  t.equal(page.url(), `${origin}/console`, 'the token is cleared from the address bar')
  t.ok(sent.some((s) => s.includes(`"authorization":"Bearer ${token}"`)), 'the page uses the token as a bearer')
  t.notOk(sent.some((s) => s.startsWith(`${origin}/console#`) || s.includes('token=')), 'the fragment never went to the server')
  t.equal(await page.isVisible('#local-token'), false, 'no "Use local token" button any more')

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

  const acked = await pageNumber(page, '#acked-rows')
  t.ok(acked >= 6000, `the page saw ${acked} acked rows`)
  t.equal(await page.textContent('#errors'), '0')
  const rows = localRows(gw.dataDir, 'browser_rows')
  t.equal(rows.length, acked, 'exactly the acked rows are in Parquet')
  t.same(rows.map((r) => Number(r.id)).sort((a, b) => a - b), Array.from({ length: acked }, (_, i) => i + 1), 'ids 1…n, none lost or doubled')
  t.same(await page.$$eval('#tail-table th', (els) => els.map((e) => e.textContent)), ['id', 'ts', 'sensor', 'value', 'ok', '__ingested_at'], 'live tail shows the topic, with the ingestion time the tail now carries')
  await page.click('#tail-toggle')

  // A writer's token: "Create" says which roles it has and that creating needs admin.
  await page.fill('#token', localToken(gw.dataDir, ['write'], { subject: 'browser-writer' }))
  await page.click('#connect')
  await page.waitForFunction(() => /^browser-writer · /.test(document.getElementById('who')!.textContent!))
  await page.fill('#topic', 'writer_made')
  await page.click('#create-topic')
  await page.waitForFunction(() => document.querySelector('#log li span.err')?.textContent?.startsWith('Create needs'))
  t.equal(await page.textContent('#log li span.err'), 'Create needs an admin token: this token has the roles read, write. Connect with an admin token to create topics' +
    ' (or just start streaming: a writer\'s first stream creates the topic when the gateway auto-creates topics).')
  const topics = await (await fetch(`${origin}/v1/topics`, { headers: { authorization: `Bearer ${token}` } })).json()
  t.same(topics.topics.map((x: { name: string }) => x.name), ['browser_rows'], 'nothing was created')
  t.same(problems, [], 'no console errors, nothing loaded from elsewhere')
})

test('no endpoint hands out tokens: /console/local-token and /console/info are gone', async (t) => {
  const gw = await startGateway(t, { LOG_LEVEL: 'warn' })
  for (const path of ['/console/local-token', '/console/info']) {
    // What a same-host reverse proxy would forward: loopback peer, loopback Host, the old console header.
    const res = await fetch(`${gw.url}${path}`, { headers: { 'x-quiver-console': '1' } })
    t.equal(res.status, 404, path)
    t.same(await res.json(), { statusCode: 404, code: 'QUIVER_NOT_FOUND', error: 'Not Found', message: `Route GET ${path} not found` }, path)
  }
  const page = await fetch(`${gw.url}/console/../../package.json`)
  t.equal(page.status, 404, 'only the allowlisted files are served')
  const doc = await (await fetch(`${gw.url}/openapi.json`)).json()
  t.same(Object.keys(doc.paths).filter((p) => p.startsWith('/console')), ['/console'], 'only the console page in the API document (no token endpoint under it)')
})
