"""An intranet web server holding a file (a media URL the platform itself cannot reach)."""

from __future__ import annotations

from tests._media import PNG
from tests.fakes.base import FakeServer, Recorded, Reply


class FileHost(FakeServer):
    """Serves ``body`` (an image) at any path, except ``/missing.png`` (404)."""

    body = PNG * 10

    def handle(self, req: Recorded) -> Reply:
        if req.path == "/missing.png":
            return Reply(404, body=b"not found")
        return Reply(200, body=self.body, headers={"Content-Type": "image/png"})
