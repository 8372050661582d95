"""A browser without a browser: cookies, the CSRF token of the last page, no redirect
followed (so a test sees the 303 and where it points), every wait bounded."""

from __future__ import annotations

import http.cookiejar
import re
import secrets
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: str

    @property
    def location(self) -> str:
        return self.headers.get("location", self.headers.get("Location", ""))


class Client:
    def __init__(self, base: str, timeout: float = 30.0) -> None:
        self.base = base
        self.timeout = timeout
        self.jar = http.cookiejar.CookieJar()
        self.csrf = ""
        self._opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect
        )

    def request(self, method: str, path: str, form: dict[str, str] | None = None) -> Answer:
        data = None if form is None else urllib.parse.urlencode(form).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        return self._send(req)

    def get(self, path: str) -> Answer:
        return self.request("GET", path)

    def get_bytes(self, path: str) -> tuple[int, str, bytes]:
        """A download as it came: (status, content type, body)."""
        req = urllib.request.Request(self.base + path, method="GET")
        try:
            with self._opener.open(req, timeout=self.timeout) as response:
                return response.status, response.headers.get("content-type", ""), response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers.get("content-type", ""), exc.read()

    def post(self, path: str, form: dict[str, str] | None = None) -> Answer:
        """A form with this session's CSRF token (fetch a page first)."""
        return self.request("POST", path, {"csrf": self.csrf, **(form or {})})

    def post_file(
        self,
        path: str,
        filename: str,
        content: bytes,
        fields: dict[str, str] | None = None,
        *,
        csrf: bool = True,
    ) -> Answer:
        """A multipart form with one file (`file`), as a browser uploads it."""
        boundary = f"----clock-gateway-test-{secrets.token_hex(8)}"
        values = {**({"csrf": self.csrf} if csrf else {}), **(fields or {})}
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
            for k, v in values.items()
        ]
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode()
            + content
            + b"\r\n"
        )
        parts.append(f"--{boundary}--\r\n".encode())
        req = urllib.request.Request(self.base + path, data=b"".join(parts), method="POST")
        req.add_header("Content-Type", f"multipart/form-data; boundary={boundary}")
        return self._send(req)

    def _send(self, req: urllib.request.Request) -> Answer:
        try:
            with self._opener.open(req, timeout=self.timeout) as response:
                answer = Answer(response.status, dict(response.headers), response.read().decode())
        except urllib.error.HTTPError as exc:
            answer = Answer(exc.code, dict(exc.headers), exc.read().decode())
        if found := _CSRF.search(answer.body):
            self.csrf = found.group(1)
        return answer

    def login(self, username: str, password: str, next_path: str = "/people") -> Answer:
        self.get("/login")
        return self.post("/login", {"username": username, "password": password, "next": next_path})

    def cookies(self) -> list[http.cookiejar.Cookie]:
        return list(self.jar)

    def use_cookies(self, cookies: list[http.cookiejar.Cookie], csrf: str) -> None:
        """Put back a copy of cookies taken earlier (a cookie saved before a logout)."""
        self.jar.clear()
        for cookie in cookies:
            self.jar.set_cookie(cookie)
        self.csrf = csrf
