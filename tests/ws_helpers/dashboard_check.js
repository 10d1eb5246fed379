// Drive examples/ws_dashboard.py's page in headless chromium as a user would: wait for
// live ticks, ask a question through the form, read the answer.  Prints one JSON line.
// Usage: node dashboard_check.js URL
'use strict'
const { chromium } = require('playwright-core')

async function main () {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-dev-shm-usage']
  })
  const errors = []
  try {
    const page = await browser.newPage()
    page.on('pageerror', (e) => errors.push(String(e)))
    await page.goto(process.argv[2])
    await page.waitForFunction(() => document.querySelectorAll('#ticks li').length >= 3, null, { timeout: 20000 })
    const status = await page.textContent('#status')
    await page.fill('#question', 'is anybody there?')
    await page.click('#ask')
    await page.waitForFunction(() => document.getElementById('answer').textContent.includes('ANYBODY'), null, { timeout: 20000 })
    const answer = await page.textContent('#answer')
    const ticks = await page.$$eval('#ticks li', (lis) => lis.map((li) => li.textContent))
    const count = Number(await page.textContent('#count'))
    process.stdout.write(JSON.stringify({ status, answer, ticks, count, errors }) + '\n')
  } finally {
    await browser.close()
  }
}

main().catch((e) => { process.stdout.write(JSON.stringify({ fatal: String(e), errors }) + '\n'); process.exit(1) })
