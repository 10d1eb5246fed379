// A jszmq (npm, 0.1.2) peer for purezmq's ws:// interop tests, driven by one JSON
// argument.  It prints JSON lines: {"event": "bound", "port": N} once listening (bind),
// {"msg": [frames as latin1 strings]} for each message received, {"event": "done"} at
// the end.  Modes:
//   recv  print `count` messages, then exit
//   echo  answer each of `count` requests with "echo:" + its last frame (REP, ROUTER,
//         DEALER), then exit once `linger` ms passed
//   send  send `messages` (a list of multipart messages) every `interval` ms, `repeat`
//         times (or until killed if repeat is 0)
//   req   send `count` requests ("req" + i) one after the other, printing each reply
'use strict'
const zmq = require('jszmq')

const spec = JSON.parse(process.argv[2])
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n')
const text = (frames) => frames.map((b) => Buffer.from(b).toString('latin1'))
const sock = zmq.socket(spec.type)
if (spec.routingId) sock.options.routingId = Buffer.from(spec.routingId, 'latin1')

let finished = false
function finish () {
  if (finished) return
  finished = true
  out({ event: 'done' })
  setTimeout(() => { sock.close(); process.exit(0) }, spec.linger || 50)
}

let received = 0
const count = spec.count || 1

if (spec.mode === 'recv') {
  sock.on('message', (...frames) => {
    out({ msg: text(frames) })
    if (++received >= count) finish()
  })
} else if (spec.mode === 'echo') {
  sock.on('message', (...frames) => {
    out({ msg: text(frames) })
    const last = frames.length - 1
    const reply = frames.slice(0, last).concat([Buffer.concat([Buffer.from('echo:'), frames[last]])])
    sock.send(reply)
    if (++received >= count) finish()
  })
}

if (spec.bind) {
  sock.bind(spec.bind)
  const server = sock.binds[0].server
  server.on('listening', () => out({ event: 'bound', port: server.address().port }))
}
if (spec.connect) sock.connect(spec.connect)
if (spec.subscribe) spec.subscribe.forEach((t) => sock.subscribe(t))

if (spec.mode === 'send') {
  let n = 0
  const tick = () => {
    spec.messages.forEach((m) => sock.send(m.map((f) => Buffer.from(f, 'latin1'))))
    n++
    if (spec.repeat && n >= spec.repeat) finish()
    else setTimeout(tick, spec.interval || 50)
  }
  setTimeout(tick, spec.delay || 0)
} else if (spec.mode === 'req') {
  let i = 0
  sock.on('message', (...frames) => {
    out({ msg: text(frames) })
    if (++i >= count) finish()
    else sock.send('req' + i)
  })
  sock.send('req0')
}

setTimeout(() => { out({ event: 'timeout' }); process.exit(3) }, spec.timeout || 20000)
