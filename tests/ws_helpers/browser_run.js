// Open a page in headless chromium (Debian's, through playwright-core) and print what it
// reports.  Usage: node browser_run.js URL [TIMEOUT_MS] [ignore-cert-errors].  The page sets `window.__done`
// when finished; `window.__log` (a JSON-able value) is printed as one JSON line, along with
// console errors.  Works offline: no browser download, no network but the given URL.
'use strict'
const { chromium } = require('playwright-core')

async function main () {
  const url = process.argv[2]
  const timeout = Number(process.argv[3] || 20000)
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-dev-shm-usage']
  })
  const errors = []
  try {
    // (wss:// tests use a throw-away CA the browser does not know)
    const context = await browser.newContext({ ignoreHTTPSErrors: process.argv[4] === 'ignore-cert-errors' })
    const page = await context.newPage()
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()) })
    page.on('pageerror', (e) => errors.push(String(e)))
    await page.goto(url)
    let done = true
    try {
      await page.waitForFunction(() => window.__done === true, null, { timeout })
    } catch (e) {
      done = false
    }
    const log = await page.evaluate(() => window.__log === undefined ? null : window.__log)
    process.stdout.write(JSON.stringify({ done, log, errors }) + '\n')
  } finally {
    await browser.close()
  }
}

main().catch((e) => { process.stdout.write(JSON.stringify({ done: false, fatal: String(e) }) + '\n'); process.exit(1) })
