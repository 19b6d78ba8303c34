"""What the fake GitHub's route handlers share (loom/demo/fakes/github.py): GitHub's error
body, its pagination (`per_page`, `page`, a `Link` header), and the instance's API and web
addresses.

Part of a demo fake (loom.demo.fakes), not for production."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from loom.demo.fakes.github_git import Repo
from loom.demo.fakes.server import FakeServer, RecordedCall, Reply

DOCS = "https://docs.github.com/rest"


def error(status: int, message: str, docs: str = DOCS, **extra: Any) -> Reply:
    body = {"message": message, "documentation_url": docs, **extra, "status": str(status)}
    return Reply(status, json=body)


class ApiBase:
    """Addresses and pagination for the handler mixins."""

    server: FakeServer
    prefix: str

    @property
    def api_url(self) -> str:
        return self.server.url + self.prefix

    @property
    def web_url(self) -> str:
        return self.server.url

    def _links(self, repo: Repo) -> tuple[str, str]:
        return (f"{self.api_url}/repos/{repo.full_name}", f"{self.web_url}/{repo.full_name}")

    def _page(self, call: RecordedCall, items: list[Any], key: str | None = None) -> Reply:
        per_page = min(int(call.query.get("per_page", ["30"])[0]), 100)
        page = int(call.query.get("page", ["1"])[0])
        chunk = items[(page - 1) * per_page : page * per_page]
        headers = {}
        if page * per_page < len(items):
            query = "&".join(f"{k}={quote(v[0])}" for k, v in call.query.items() if k != "page")
            nxt = f"{self.server.url}{call.path}?{query}&page={page + 1}"
            headers["Link"] = f'<{nxt}>; rel="next"'
        body = chunk if key is None else {"total_count": len(items), key: chunk}
        return Reply(json=body, headers=headers)
