import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { chromium, type Page } from 'playwright-core'

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
export const OUTPUT = fileURLToPath(new URL('../output/', import.meta.url))

/**
 * Debian's headless Chromium with a page on `origin`. `problems` collects console errors and
 * warnings, page errors, failed requests and any request leaving the gateway's origin.
 * The browser closes when the test ends.
 */
export async function openPage (t: { teardown: (fn: () => unknown) => void }, origin: string): Promise<{ page: Page, problems: string[] }> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`)
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] })
  t.teardown(() => browser.close())
  const page = await browser.newPage({ viewport: { width: 1360, height: 1100 } })
  const problems: string[] = []
  const wsOrigin = origin.replace(/^http/, 'ws')
  page.on('console', (msg) => { if (msg.type() === 'error' || msg.type() === 'warning') problems.push(`${msg.type()}: ${msg.text()}`) })
  page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`))
  page.on('requestfailed', (req) => problems.push(`request failed: ${req.url()}`))
  page.on('request', (req) => {
    const url = req.url()
    if (!url.startsWith(origin) && !url.startsWith(wsOrigin) && !url.startsWith('data:')) problems.push(`off-origin request: ${url}`)
  })
  return { page, problems }
}

/** The page's number in element `selector` ("12,345" → 12345). */
export async function pageNumber (page: Page, selector: string): Promise<number> {
  return Number((await page.textContent(selector))!.replace(/,/g, ''))
}
