"""A fault-injecting HTTP/1.1 proxy on loopback, to put in front of a real AgentOS.

It forwards each request to the upstream server on a fresh connection and answers
with `Connection: close`, so one client connection carries exactly one request and
the proxy can see, count and disturb every request on its own:

    with FaultProxy(agentos.url) as proxy:
        proxy.fail(503, times=2, method="GET", path="/sessions")  # a burst of 503s
        proxy.drop(method="DELETE")                               # close without answering
        proxy.delay(2.0, path_prefix="/sessions/")                # answer late
        proxy.cut(after_marker=b"event: RunContent", occurrences=3)  # cut a stream
        proxy.trickle(1.0, path="/sessions")                      # the body one byte a second
        proxy.flood(300 * 2**20, method="GET")                    # a 300 MB body, made as it is sent
        proxy.stop_listening()                                    # connection refused
        main(["--base-url", proxy.url, ...])
        proxy.seen(method="POST", path="/sessions")               # what the server saw

Every request that reaches the proxy is recorded, whether it was forwarded or not.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

HEAD_LIMIT = 256 * 1024
READ_SIZE = 64 * 1024


@dataclass
class SeenRequest:
    """One request as the proxy received it, and what the proxy did with it."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    received_at: float
    outcome: str = "pending"
    answered: bool = False
    answered_at: float = 0.0  # time.monotonic() when its answer started (or it was given up)

    @property
    def target(self) -> str:
        return f"{self.method} {self.path}"


@dataclass
class Fault:
    """A rule: for matching requests, after `skip` of them pass, disturb the next `times`."""

    kind: str
    method: str | None = None
    path: str | None = None
    path_prefix: str | None = None
    body_contains: bytes | None = None  # only requests whose body holds these bytes
    times: int = 1
    skip: int = 0
    status: int = 503
    detail: str = "injected by the fault proxy"
    body: bytes | None = None
    seconds: float = 0.0
    after_bytes: int | None = None
    after_marker: bytes | None = None
    occurrences: int = 1
    total_bytes: int = 0
    tail: int | None = None
    content_type: str = "application/json"
    callback: Callable[[], object] | None = None
    hits: int = field(default=0, init=False)

    def matches(self, method: str, path: str, body: bytes = b"") -> bool:
        return (
            (self.method is None or self.method == method)
            and (self.path is None or self.path == path)
            and (self.path_prefix is None or path.startswith(self.path_prefix))
            and (self.body_contains is None or self.body_contains in body)
        )


class FaultProxy:
    """Forward HTTP/1.1 requests to `upstream`, injecting faults on demand."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream_host = parts.hostname or "127.0.0.1"
        self.upstream_port = parts.port or 80
        self.requests: list[SeenRequest] = []
        self.faults: list[Fault] = []
        self.port = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.connections_accepted = 0
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fault-proxy", daemon=True)
        self._server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> FaultProxy:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def start(self) -> str:
        """Start the proxy thread and listen on a free loopback port."""
        self._thread.start()
        self.start_listening()
        return self.url

    def start_listening(self) -> None:
        """Listen (again) on the proxy's port; the first call picks a free port."""
        self._call(self._listen())

    def stop_listening(self) -> None:
        """Close the listening socket: new connections are refused, as by a stopped server."""
        self._call(self._unlisten())

    def close(self) -> None:
        """Stop listening, abandon open connections and end the proxy thread."""
        if not self._thread.is_alive():
            return
        self._call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def fail(
        self,
        status: int = 503,
        times: int = 1,
        detail: str = "injected by the fault proxy",
        body: bytes | None = None,
        content_type: str = "application/json",
        **match: object,
    ) -> Fault:
        """Answer `status` with {"detail": ...} (or `body`, of `content_type`) instead of forwarding the next `times`
        matching requests."""
        fault = Fault(
            "status", status=status, times=times, detail=detail, body=body, content_type=content_type, **match
        )
        return self._add(fault)

    def drop(self, times: int = 1_000_000, forward: bool = False, **match: object) -> Fault:
        """Close the connection of the next matching requests without answering.

        With `forward`, the request reaches the server first and only its answer is
        lost, the way a connection that breaks after the server acted would behave.
        """
        return self._add(Fault("drop-after-server" if forward else "drop", times=times, **match))

    def on(self, callback: Callable[[], object], after: bool = False, times: int = 1, **match: object) -> Fault:
        """Run `callback` (blocking, in a thread) when a matching request arrives: before it is forwarded, or
        with `after`, once the server has answered and before the client gets the answer.

        A race made to order: another writer acts at exactly this step of the command under test.
        """
        fault = Fault("hook-after" if after else "hook", times=times, **match)
        fault.callback = callback
        return self._add(fault)

    def delay(self, seconds: float, times: int = 1, **match: object) -> Fault:
        """Wait `seconds` before forwarding the next matching requests (forwarded even if the client left)."""
        return self._add(Fault("delay", seconds=seconds, times=times, **match))

    def cut(
        self,
        times: int = 1,
        after_bytes: int | None = None,
        after_marker: bytes | None = None,
        occurrences: int = 1,
        **match: object,
    ) -> Fault:
        """Forward, then cut the response: after `after_bytes` bytes of body, or after the SSE
        event holding the `occurrences`-th `after_marker`. Without either, cut half-way."""
        return self._add(
            Fault(
                "cut",
                times=times,
                after_bytes=after_bytes,
                after_marker=after_marker,
                occurrences=occurrences,
                **match,
            )
        )

    def trickle(
        self,
        seconds: float,
        times: int = 1,
        after_bytes: int = 0,
        after_marker: bytes | None = None,
        occurrences: int = 1,
        tail: int | None = None,
        **match: object,
    ) -> Fault:
        """Forward, then send the response body one byte every `seconds`: at once up to `after_bytes`
        bytes, or up to the end of the SSE event holding the `occurrences`-th `after_marker`, or all
        but the last `tail` bytes."""
        return self._add(
            Fault(
                "trickle",
                times=times,
                seconds=seconds,
                after_bytes=after_bytes,
                after_marker=after_marker,
                occurrences=occurrences,
                tail=tail,
                **match,
            )
        )

    def flood(
        self,
        total_bytes: int,
        body: bytes = b" ",
        content_type: str = "application/json",
        times: int = 1,
        **match: object,
    ) -> Fault:
        """Answer 200 with `total_bytes` of `body` repeated, made while it is sent, with no Content-Length
        (the body ends when the connection closes); with `content_type` text/event-stream it is a stream."""
        return self._add(
            Fault("flood", times=times, total_bytes=total_bytes, body=body, content_type=content_type, **match)
        )

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    def reset(self) -> None:
        """Forget faults, recorded requests and counters."""
        with self._lock:
            self.faults.clear()
            self.requests.clear()
            self.max_in_flight = 0
            self.connections_accepted = 0

    def seen(
        self, method: str | None = None, path: str | None = None, path_prefix: str | None = None
    ) -> list[SeenRequest]:
        """The recorded requests, optionally only those matching method and path."""
        probe = Fault("probe", method=method, path=path, path_prefix=path_prefix)
        with self._lock:
            return [request for request in self.requests if probe.matches(request.method, request.path)]

    def _add(self, fault: Fault) -> Fault:
        with self._lock:
            self.faults.append(fault)
        return fault

    def _call(self, coroutine: object) -> object:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=10)

    async def _listen(self) -> None:
        if self._server is not None:
            return
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _unlisten(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None

    async def _shutdown(self) -> None:
        await self._unlisten()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _pick_fault(self, method: str, path: str, body: bytes = b"") -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.hits >= fault.skip + fault.times or not fault.matches(method, path, body):
                    continue
                fault.hits += 1
                return fault if fault.hits > fault.skip else None
        return None

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections_accepted += 1
        try:
            await self._serve_one(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            pass
        except asyncio.CancelledError:
            # Only close() cancels: the connection is abandoned on purpose.
            pass
        finally:
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _serve_one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        request_line, *header_lines = head[:-4].decode("latin-1").split("\r\n")
        method, target, _version = request_line.split(" ", 2)
        headers = dict(parse_header(line) for line in header_lines)
        body = await read_body(reader, headers)
        parts = urlsplit(target)
        seen = SeenRequest(method, parts.path, parts.query, headers, body, time.monotonic())
        with self._lock:
            self.requests.append(seen)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            fault = self._pick_fault(method, parts.path, body)
            seen.outcome = fault.kind if fault else "forwarded"
            await self._handle(fault, head, body, writer, seen)
        finally:
            self._answered(seen)

    def _answered(self, seen: SeenRequest) -> None:
        """Stop counting a request as in flight once its answer starts (or it is given up).

        The client cannot reuse its slot before the rest of the answer arrives, so
        counting up to here never counts one request after its successor started.
        """
        with self._lock:
            if not seen.answered:
                seen.answered = True
                seen.answered_at = time.monotonic()
                self.in_flight -= 1

    async def _handle(
        self, fault: Fault | None, head: bytes, body: bytes, writer: asyncio.StreamWriter, seen: SeenRequest
    ) -> None:
        if fault is not None and fault.kind == "status":
            self._answered(seen)
            writer.write(status_response(fault.status, fault.detail, fault.body, fault.content_type))
            await writer.drain()
            return
        if fault is not None and fault.kind == "drop":
            return
        if fault is not None and fault.kind == "flood":
            self._answered(seen)
            await send_flood(writer, fault)
            return
        if fault is not None and fault.kind == "drop-after-server":
            await self._forward(head, body, None, None, seen)
            return
        if fault is not None and fault.kind == "delay":
            await asyncio.sleep(fault.seconds)
        if fault is not None and fault.kind == "hook" and fault.callback is not None:
            await asyncio.to_thread(fault.callback)
        if fault is not None and fault.kind == "hook-after":
            await self._forward(head, body, writer, None, seen, fault.callback)
            return
        disturbed = fault if fault is not None and fault.kind in ("cut", "trickle") else None
        await self._forward(head, body, writer, disturbed, seen)

    async def _forward(
        self,
        head: bytes,
        body: bytes,
        writer: asyncio.StreamWriter | None,
        cut: Fault | None,
        seen: SeenRequest,
        then: Callable[[], object] | None = None,
    ) -> None:
        """Send the request upstream and relay the answer (to nobody when `writer` is None)."""
        upstream_reader, upstream_writer = await asyncio.open_connection(self.upstream_host, self.upstream_port)
        try:
            upstream_writer.write(with_connection_close(head) + body)
            await upstream_writer.drain()
            response_head = await upstream_reader.readuntil(b"\r\n\r\n")
            if then is not None and writer is not None:
                answer = await read_body(upstream_reader, response_headers(response_head))
                await asyncio.to_thread(then)
                self._answered(seen)
                writer.write(with_connection_close(response_head) + answer)
                await writer.drain()
                return
            if writer is None:
                await upstream_reader.read()
                return
            self._answered(seen)
            writer.write(with_connection_close(response_head))
            await writer.drain()
            await pipe_body(upstream_reader, writer, cut)
        finally:
            upstream_writer.close()
            with contextlib.suppress(Exception):
                await upstream_writer.wait_closed()


def response_headers(head: bytes) -> dict[str, str]:
    """The headers of an answer's head, to read its body whole."""
    return dict(parse_header(line) for line in head[:-4].decode("latin-1").split("\r\n")[1:])


def parse_header(line: str) -> tuple[str, str]:
    name, _, value = line.partition(":")
    return name.strip().lower(), value.strip()


async def read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
    """The raw request body, framed by Content-Length or chunked encoding."""
    if "chunked" in headers.get("transfer-encoding", "").lower():
        raw = b""
        while True:
            size_line = await reader.readuntil(b"\r\n")
            raw += size_line
            size = int(size_line.split(b";")[0].strip(), 16)
            if size == 0:
                return raw + await reader.readuntil(b"\r\n")
            raw += await reader.readexactly(size + 2)
    length = int(headers.get("content-length", "0") or 0)
    return await reader.readexactly(length) if length else b""


def with_connection_close(head: bytes) -> bytes:
    """The same message head, asking for the connection to close after this exchange."""
    lines = head[:-4].split(b"\r\n")
    kept = [lines[0]] + [line for line in lines[1:] if not line.lower().startswith((b"connection:", b"keep-alive:"))]
    return b"\r\n".join([*kept, b"Connection: close"]) + b"\r\n\r\n"


def status_response(
    status: int, detail: str, body: bytes | None = None, content_type: str = "application/json"
) -> bytes:
    import json

    body = json.dumps({"detail": detail}).encode() if body is None else body
    head = (
        f"HTTP/1.1 {status} Injected\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


def cut_position(body: bytes, cut: Fault) -> int | None:
    """Where in the body seen so far the cut falls, once it can be told."""
    if cut.after_marker is None:
        return cut.after_bytes if cut.after_bytes is not None and len(body) >= cut.after_bytes else None
    start = -1
    for _ in range(cut.occurrences):
        start = body.find(cut.after_marker, start + 1)
        if start < 0:
            return None
    end = body.find(b"\n\n", start)
    return None if end < 0 else end + 2


async def send_flood(writer: asyncio.StreamWriter, fault: Fault) -> None:
    """A 200 whose body is `total_bytes` long, made as it is sent; stops when the client leaves."""
    head = f"HTTP/1.1 200 OK\r\nContent-Type: {fault.content_type}\r\nConnection: close\r\n\r\n"
    writer.write(head.encode())
    unit = fault.body or b" "
    block = unit * max(1, READ_SIZE // len(unit))
    sent = 0
    while sent < fault.total_bytes:
        piece = block[: fault.total_bytes - sent]
        writer.write(piece)
        await writer.drain()
        sent += len(piece)


async def trickle_body(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, fault: Fault) -> None:
    """Send the body at once up to the fault's position, then one byte every `seconds`."""
    body = b""
    while chunk := await reader.read(READ_SIZE):
        body += chunk
    if fault.tail is not None:
        start = max(0, len(body) - fault.tail)
    elif fault.after_marker is not None:
        start = cut_position(body, fault) or 0
    else:
        start = fault.after_bytes or 0
    writer.write(body[:start])
    await writer.drain()
    for index in range(start, len(body)):
        await asyncio.sleep(fault.seconds)
        writer.write(body[index : index + 1])
        await writer.drain()


async def pipe_body(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, cut: Fault | None) -> None:
    """Copy the response body to the client; with a cut, stop part-way and close; with a trickle, slow it."""
    if cut is not None and cut.kind == "trickle":
        await trickle_body(reader, writer, cut)
        return
    if cut is not None and cut.after_marker is None and cut.after_bytes is None:
        whole = await reader.read()
        writer.write(whole[: len(whole) // 2])
        await writer.drain()
        return
    body = b""
    sent = 0
    while chunk := await reader.read(READ_SIZE):
        body += chunk
        position = cut_position(body, cut) if cut is not None else None
        if position is not None:
            writer.write(body[sent:position])
            await writer.drain()
            return
        writer.write(body[sent:])
        sent = len(body)
        await writer.drain()
