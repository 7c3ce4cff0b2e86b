"""A small keep-alive HTTP/1.1 client on asyncio streams, for the benchmarks that drive a real
server: httpx would spend the cores the server under test needs. TLS when given a context."""

from __future__ import annotations

import asyncio
import ssl


class Conn:
    """One keep-alive HTTP/1.1 connection, opened at its first request (or by `open`)."""

    def __init__(self, host: str, port: int, context: ssl.SSLContext | None = None) -> None:
        self.host, self.port, self.context = host, port, context
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(
            self.host, self.port, ssl=self.context, limit=1 << 22
        )

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        """The status and body of one request; a body is JSON unless `headers` say otherwise."""
        if self.writer is None:
            await self.open()
        assert self.reader is not None
        assert self.writer is not None
        given = headers or {}
        head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        head += [f"{k}: {v}" for k, v in given.items()]
        if body and not any(k.lower() == "content-type" for k in given):
            head.append("Content-Type: application/json")
        head.append(f"Content-Length: {len(body)}")
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        status, length, chunked = await self._head()
        if not chunked:
            return status, await self.reader.readexactly(length)
        data = bytearray()
        while size := int((await self.reader.readline()).strip(), 16):
            data += await self.reader.readexactly(size)
            await self.reader.readline()
        await self.reader.readline()
        return status, bytes(data)

    async def _head(self) -> tuple[int, int, bool]:
        assert self.reader is not None
        raw = await self.reader.readuntil(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        length, chunked = 0, False
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding" and "chunked" in value.lower():
                chunked = True
        return status, length, chunked
