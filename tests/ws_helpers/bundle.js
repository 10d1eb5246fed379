// Bundle jszmq for the browser (an IIFE exposing `window.jszmq`) with esbuild.
// Usage: node bundle.js OUTFILE.  jszmq's listener imports Node's http/https/net/url,
// which a browser never uses (it cannot bind): they become empty modules.  Its Node
// polyfills (util, assert) look at `process`: a minimal one is defined first.
'use strict'
const esbuild = require('esbuild')

const emptyBuiltins = {
  name: 'empty-node-builtins',
  setup (build) {
    build.onResolve({ filter: /^(http|https|net|url|ws)$/ }, (args) => ({ path: args.path, namespace: 'empty' }))
    build.onLoad({ filter: /.*/, namespace: 'empty' }, () => ({ contents: 'module.exports = {}' }))
  }
}

esbuild.build({
  stdin: { contents: "window.jszmq = require('jszmq')", resolveDir: process.cwd() },
  bundle: true,
  platform: 'browser',
  format: 'iife',
  outfile: process.argv[2],
  define: { global: 'window' },
  banner: {
    js: 'var process = { env: {}, browser: true, version: "", versions: {}, ' +
      'nextTick: function (f) { var a = [].slice.call(arguments, 1); setTimeout(function () { f.apply(null, a) }, 0) } };'
  },
  plugins: [emptyBuiltins],
  logLevel: 'warning'
}).catch((e) => { console.error(e); process.exit(1) })
