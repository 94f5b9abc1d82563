"""A loopback TCP proxy that holds every chunk for half a round trip in each direction.

It stands for the network between a user and a remote AgentOS, which a local server lacks:

    with DelayProxy("http://127.0.0.1:7777", round_trip=0.010) as proxy:
        httpx.get(f"{proxy.url}/sessions")  # answered about 10 ms later than directly

Connections stay open as the client keeps them (keep-alive works as it does without the proxy),
and each direction keeps its order: a chunk leaves half a round trip after it arrived.
"""

from __future__ import annotations

import asyncio
import threading
import time
from types import TracebackType
from urllib.parse import urlsplit

READ_SIZE = 64 * 1024


async def forward(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    """Copy one direction of a connection, each chunk `delay` seconds after it arrived; close at its end."""
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def deliver() -> None:
        while True:
            due, chunk = await queue.get()
            await asyncio.sleep(max(due - time.monotonic(), 0))
            if not chunk:
                break
            writer.write(chunk)
            await writer.drain()
        writer.close()

    delivering = asyncio.create_task(deliver())
    try:
        while chunk := await reader.read(READ_SIZE):
            queue.put_nowait((time.monotonic() + delay, chunk))
    except ConnectionError:
        pass
    queue.put_nowait((time.monotonic() + delay, b""))
    await delivering


class DelayProxy:
    """A proxy on a free loopback port, served by its own thread and event loop."""

    def __init__(self, upstream: str, round_trip: float) -> None:
        parts = urlsplit(upstream)
        self.upstream_host, self.upstream_port = parts.hostname or "127.0.0.1", parts.port or 80
        self.delay = round_trip / 2
        self.url = ""
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._serve()), daemon=True)

    async def _connect(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(self.upstream_host, self.upstream_port)
        await asyncio.gather(
            forward(client_reader, upstream_writer, self.delay),
            forward(upstream_reader, client_writer, self.delay),
            return_exceptions=True,
        )

    async def _serve(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        server = await asyncio.start_server(self._connect, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        self._ready.set()
        async with server:
            await self._stop.wait()

    def __enter__(self) -> DelayProxy:
        self._thread.start()
        self._ready.wait()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=10)
