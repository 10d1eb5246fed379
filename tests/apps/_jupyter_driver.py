"""The client side of tests/apps/test_jupyter.py: a real jupyter_client driving a real
ipykernel, run as its own process with ``zmq`` switched to purezmq (the kernel gets the
switch from its kernelspec's ``env``).

    python _jupyter_driver.py SCENARIO KERNEL_NAME

prints one JSON line per step, ``{"step": ..., "ok": ..., ...}``, so the test can tell
which step failed (or never finished: the test's timeout kills the process).  Every wait
here has its own timeout.
"""

from __future__ import annotations

import asyncio
import json
import queue
import sys
import threading
import time
import traceback
import uuid

import zmq

STEP_TIMEOUT = 20.0


def report(step: str, **fields) -> None:
    print(json.dumps({"step": step, **fields}, default=repr), flush=True)


def check_zmq_here() -> None:
    report("client-zmq", file=zmq.__file__, socket_module=zmq.Socket.__module__)


# -- helpers on a blocking client ------------------------------------------------------------
def run_cell(kc, code: str, **kwargs) -> tuple[dict, list]:
    """Execute ``code``; return (reply, iopub messages of that request up to idle)."""
    out: list = []
    reply = kc.execute_interactive(
        code, timeout=STEP_TIMEOUT, output_hook=out.append, **kwargs
    )
    return reply, out


def streams(msgs: list, name: str) -> str:
    return "".join(
        m["content"]["text"] for m in msgs
        if m["msg_type"] == "stream" and m["content"]["name"] == name
    )


ECHO_TARGET = """
import comm
def _echo_target(c, open_msg):
    @c.on_msg
    def _echo(msg):
        bufs = [bytes(b)[::-1] for b in msg["buffers"]]
        c.send({"got": msg["content"]["data"], "sizes": [len(b) for b in bufs]}, buffers=bufs)
comm.get_comm_manager().register_target("echo", _echo_target)
"""


def comm_round_trip(kc) -> dict:
    reply, _ = run_cell(kc, ECHO_TARGET)
    assert reply["content"]["status"] == "ok", reply["content"]
    comm_id = uuid.uuid4().hex
    kc.shell_channel.send(
        kc.session.msg("comm_open", {"comm_id": comm_id, "target_name": "echo", "data": {}})
    )
    payloads = [bytes(range(256)) * 4, b"", b"\x00binary\xff" * 1000]
    msg = kc.session.msg("comm_msg", {"comm_id": comm_id, "data": {"n": 3}})
    kc.session.send(kc.shell_channel.socket, msg, buffers=payloads)
    deadline = time.monotonic() + STEP_TIMEOUT
    while time.monotonic() < deadline:
        m = kc.get_iopub_msg(timeout=STEP_TIMEOUT)
        if m["msg_type"] == "comm_msg" and m["content"]["comm_id"] == comm_id:
            bufs = m["buffers"]
            return {
                "data": m["content"]["data"],
                "types": sorted({type(b).__name__ for b in bufs}),
                "match": [bytes(b) for b in bufs] == [p[::-1] for p in payloads],
            }
    raise TimeoutError("no comm_msg came back")


def wait_busy(kc, msg_id: str) -> None:
    deadline = time.monotonic() + STEP_TIMEOUT
    while time.monotonic() < deadline:
        m = kc.get_iopub_msg(timeout=STEP_TIMEOUT)
        if (m["parent_header"].get("msg_id") == msg_id and m["msg_type"] == "status"
                and m["content"]["execution_state"] == "busy"):
            # The status comes before the code runs: give it a moment to enter sleep().
            time.sleep(0.3)
            return
    raise TimeoutError("the kernel never went busy")


def timed_exit(km, action) -> dict:
    """Run ``action`` (a shutdown or restart); report how long it took and whether the
    old kernel process exited by itself (return code 0) rather than being signalled."""
    proc = km.provisioner.process
    killed = []
    orig = km._kill_kernel

    def spy(*args, **kwargs):
        killed.append(True)
        return orig(*args, **kwargs)

    km._kill_kernel = spy
    t0 = time.monotonic()
    action()
    elapsed = time.monotonic() - t0
    km._kill_kernel = orig
    try:
        rc = proc.wait(5)
    except Exception:
        rc = None
    return {"seconds": round(elapsed, 3), "returncode": rc, "killed": bool(killed)}


# -- scenarios -------------------------------------------------------------------------------
def scenario_blocking(kernel_name: str) -> None:
    from jupyter_client.manager import KernelManager

    km = KernelManager(kernel_name=kernel_name)
    km.start_kernel()
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        report("ready")

        reply, out = run_cell(
            kc, "import sys, zmq\nprint(zmq.__file__)\nprint('to stderr', file=sys.stderr)"
        )
        report("execute", status=reply["content"]["status"], stdout=streams(out, "stdout"),
               stderr=streams(out, "stderr"))

        reply, out = run_cell(kc, "1/0")
        errors = [m["content"]["ename"] for m in out if m["msg_type"] == "error"]
        report("error", status=reply["content"]["status"],
               ename=reply["content"].get("ename"), iopub_errors=errors)

        prompts = []

        def answer(msg):
            prompts.append(msg["content"]["prompt"])
            kc.input("purezmq")

        reply, out = run_cell(kc, "name = input('who? ')\nprint('hello', name)",
                              allow_stdin=True, stdin_hook=answer)
        report("input", status=reply["content"]["status"], prompts=prompts,
               stdout=streams(out, "stdout"))

        report("comm", **comm_round_trip(kc))

        reply, out = run_cell(kc, "for i in range(2000):\n    print(i)")
        lines = streams(out, "stdout").splitlines()
        report("burst", status=reply["content"]["status"], count=len(lines),
               in_order=lines == [str(i) for i in range(2000)])

        msg_id = kc.execute("import time\ntime.sleep(30)")
        wait_busy(kc, msg_id)
        t0 = time.monotonic()
        km.interrupt_kernel()
        reply = kc.get_shell_msg(timeout=STEP_TIMEOUT)
        while reply["parent_header"].get("msg_id") != msg_id:
            reply = kc.get_shell_msg(timeout=STEP_TIMEOUT)
        report("interrupt", status=reply["content"]["status"],
               ename=reply["content"].get("ename"), seconds=round(time.monotonic() - t0, 3))

        report("restart", **timed_exit(km, lambda: km.restart_kernel(now=False)))
        kc.wait_for_ready(timeout=60)
        reply, out = run_cell(kc, "print(6 * 7)")
        report("after-restart", status=reply["content"]["status"],
               stdout=streams(out, "stdout"))
    finally:
        kc.stop_channels()
        if km.has_kernel:
            report("shutdown", **timed_exit(km, lambda: km.shutdown_kernel(now=False)))


def scenario_async_threads(kernel_name: str) -> None:
    """An AsyncKernelManager on the main thread's loop; two AsyncKernelClients sharing its
    ``zmq.asyncio.Context``, each with its channels in a thread running its own loop."""
    from jupyter_client.manager import AsyncKernelManager

    async def in_thread(km, tag: str) -> dict:
        kc = km.client()
        kc.start_channels()
        try:
            await kc.wait_for_ready(timeout=60)
            out: list = []
            reply = await kc.execute_interactive(
                f"print('from {tag}', __import__('zmq').__file__)",
                timeout=STEP_TIMEOUT, output_hook=out.append,
            )
            return {"status": reply["content"]["status"], "stdout": streams(out, "stdout")}
        finally:
            kc.stop_channels()

    def thread(km, tag: str, results: dict) -> None:
        try:
            results[tag] = asyncio.run(asyncio.wait_for(in_thread(km, tag), 60))
        except BaseException as e:
            results[tag] = {"error": "".join(traceback.format_exception(e))}

    async def main() -> None:
        km = AsyncKernelManager(kernel_name=kernel_name)
        await km.start_kernel()
        report("context", cls=type(km.context).__module__ + "." + type(km.context).__name__)
        try:
            results: dict = {}
            # One thread after the other (two clients at once on one manager share its
            # Session, which is not thread-safe: pyzmq fails that too).  The main loop
            # keeps running, with its own sockets, meanwhile.
            for tag in "ab":
                t = threading.Thread(target=thread, args=(km, tag, results))
                t.start()
                while t.is_alive():
                    await asyncio.sleep(0.05)
            report("threads", results=results)
        finally:
            proc = km.provisioner.process
            t0 = time.monotonic()
            await km.shutdown_kernel(now=False)
            rc = proc.wait(5)
            report("shutdown", seconds=round(time.monotonic() - t0, 3), returncode=rc)

    asyncio.run(main())


def scenario_zmqstream(kernel_name: str) -> None:
    """ZMQStream clients: jupyter_client's ThreadedKernelClient (its channels are
    ZMQStreams on a tornado IOLoop in a thread, closed with IOLoop.close(all_fds=True)),
    and a ZMQStream of our own on an iopub socket from the IOLoop kernel manager."""
    from jupyter_client.ioloop import IOLoopKernelManager
    from jupyter_client.threaded import ThreadedKernelClient
    from tornado.ioloop import IOLoop
    from zmq.eventloop.zmqstream import ZMQStream

    km = IOLoopKernelManager(kernel_name=kernel_name)
    km.start_kernel()
    try:
        kc = ThreadedKernelClient(connection_file=km.connection_file)
        kc.load_connection_file()
        got: queue.Queue = queue.Queue()
        kc.start_channels()
        kc.iopub_channel.call_handlers = got.put  # called on the channels' IOLoop thread
        kc.shell_channel.call_handlers = got.put
        # kernel_info until the kernel answers (the iopub subscription settles meanwhile).
        deadline = time.monotonic() + 60
        info = None
        while info is None and time.monotonic() < deadline:
            kc.kernel_info()
            try:
                while True:
                    m = got.get(timeout=1)
                    if m["msg_type"] == "kernel_info_reply":
                        info = m
                        break
            except queue.Empty:
                pass
        report("threaded-ready", ok=info is not None)
        msg_id = kc.execute("print('via threaded client')")
        text, idle = "", False
        deadline = time.monotonic() + STEP_TIMEOUT
        while not idle and time.monotonic() < deadline:
            m = got.get(timeout=STEP_TIMEOUT)
            if m["parent_header"].get("msg_id") != msg_id:
                continue
            if m["msg_type"] == "stream":
                text += m["content"]["text"]
            idle = m["msg_type"] == "status" and m["content"]["execution_state"] == "idle"
        report("threaded-execute", stdout=text, idle=idle)
        t0 = time.monotonic()
        kc.stop_channels()  # IOLoop.close(all_fds=True) on the channels' loop, then join
        report("threaded-stop", seconds=round(time.monotonic() - t0, 3),
               alive=kc.ioloop_thread is not None and kc.ioloop_thread.is_alive())

        # A ZMQStream on the manager's iopub socket, and a blocking client to execute.
        async def stream_client() -> dict:
            io_loop = km.loop = IOLoop.current()  # the manager's streams go on this loop
            stream = km.connect_iopub()
            assert isinstance(stream, ZMQStream)
            bc = km.client()
            bc.start_channels()
            done = asyncio.get_running_loop().create_future()
            seen: list = []

            def on_recv(frames):
                idents, msg = bc.session.feed_identities(frames)
                msg = bc.session.deserialize(msg)
                seen.append(msg["msg_type"])
                if (msg["msg_type"] == "stream" and not done.done()
                        and "via ZMQStream" in msg["content"]["text"]):
                    done.set_result(msg["content"]["text"])

            stream.on_recv(on_recv)
            try:
                for _ in range(100):  # until our subscription is through
                    bc.execute("print('via ZMQStream')")
                    try:
                        text = await asyncio.wait_for(asyncio.shield(done), 0.5)
                        break
                    except asyncio.TimeoutError:
                        continue
                else:
                    raise TimeoutError(f"no stream message (saw {seen})")
                return {"stdout": text, "io_loop": type(io_loop).__name__}
            finally:
                stream.close()
                bc.stop_channels()

        report("zmqstream", **asyncio.run(asyncio.wait_for(stream_client(), 60)))
    finally:
        if km.has_kernel:
            report("shutdown", **timed_exit(km, lambda: km.shutdown_kernel(now=False)))


def scenario_notebook(kernel_name: str) -> None:
    """nbclient (what ``jupyter nbconvert --execute`` runs) executes a notebook, twice:
    its blocking API runs coroutines on a loop that stops and starts between calls."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("import zmq, sys\nprint(zmq.__file__)"),
        nbformat.v4.new_code_cell("sum(range(10))"),
        nbformat.v4.new_code_cell("print('to stderr', file=sys.stderr)"),
    ]
    for run in (1, 2):
        t0 = time.monotonic()
        NotebookClient(nb, kernel_name=kernel_name, timeout=int(STEP_TIMEOUT)).execute()
        outputs = [
            o.get("text") or o.get("data", {}).get("text/plain")
            for cell in nb.cells for o in cell.outputs
        ]
        report(f"notebook-{run}", outputs=outputs, seconds=round(time.monotonic() - t0, 3))


def main() -> None:
    scenario, kernel_name = sys.argv[1], sys.argv[2]
    check_zmq_here()
    t0 = time.monotonic()
    try:
        globals()[f"scenario_{scenario}"](kernel_name)
    except BaseException:
        report("crash", traceback=traceback.format_exc())
        raise
    report("end", seconds=round(time.monotonic() - t0, 3))


if __name__ == "__main__":
    main()
