"""A local stand-in for the Hugging Face Hub's file endpoints, for download tests.

It answers ``HEAD``/``GET {endpoint}/{repo_id}/resolve/{revision}/{filename}`` the way
huggingface_hub's ``hf_hub_download`` expects: ``X-Repo-Commit``, ``ETag`` (git blob sha1)
and ``Content-Length`` for regular files; for LFS files (weights) a 302 redirect to a
separate "CDN" server with ``X-Linked-Etag`` (sha256) and ``X-Linked-Size``; 404 with
``X-Error-Code`` ``RepoNotFound`` / ``RevisionNotFound`` / ``EntryNotFound``; 401 for a
private repo without the right bearer token. The CDN honours ``Range: bytes=N-`` and
``bytes=N-M`` (206 with exactly those bytes; 416 past the end) and can drop the connection
half-way through a file once, to test resumed downloads. Every request is recorded, with
the number of body bytes sent for it.
"""

from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote

LFS_SUFFIXES = (".safetensors", ".bin")


@dataclass
class Request:
    """One request as received; ``bytes_sent`` is the size of the body served for it."""

    server: str  # "hub" or "cdn"
    method: str
    path: str
    range: str | None
    authorization: str | None
    bytes_sent: int = 0


@dataclass
class Repo:
    commits: dict[str, dict[str, bytes]] = field(default_factory=dict)  # sha -> filename -> content
    refs: dict[str, str] = field(default_factory=dict)  # branch or tag -> sha
    token: str | None = None  # private when set


class HubServer:
    """Two threaded HTTP servers on 127.0.0.1 (random ports): the Hub and its CDN."""

    def __init__(self) -> None:
        self.repos: dict[str, Repo] = {}
        self.blobs: dict[str, bytes] = {}  # sha256 -> content
        self.requests: list[Request] = []
        self.drop_once: set[str] = set()  # sha256 of blobs whose next GET is cut half-way
        self._lock = threading.Lock()
        self._hub = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self, "hub"))
        self._cdn = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self, "cdn"))
        self._threads = [
            threading.Thread(target=server.serve_forever, daemon=True) for server in (self._hub, self._cdn)
        ]

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._hub.server_address[1]}"

    @property
    def cdn(self) -> str:
        return f"http://127.0.0.1:{self._cdn.server_address[1]}"

    def start(self) -> HubServer:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        for server in (self._hub, self._cdn):
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)

    # -- content ------------------------------------------------------------------------

    def add_commit(
        self,
        repo_id: str,
        directory: Path | dict[str, bytes],
        *,
        refs: tuple[str, ...] = ("main",),
        prefix: str = "",
        token: str | None = None,
    ) -> str:
        """Publish the files of ``directory`` (under ``prefix``) as a new commit; returns its sha."""
        if isinstance(directory, dict):
            files = {prefix + name: content for name, content in directory.items()}
        else:
            files = {
                prefix + path.relative_to(directory).as_posix(): path.read_bytes()
                for path in sorted(directory.rglob("*"))
                if path.is_file()
            }
        repo = self.repos.setdefault(repo_id, Repo())
        repo.token = token if token is not None else repo.token
        sha = hashlib.sha1(f"{repo_id}:{len(repo.commits)}:{sorted(files)}".encode()).hexdigest()
        repo.commits[sha] = files
        for ref in refs:
            repo.refs[ref] = sha
        for content in files.values():
            self.blobs[hashlib.sha256(content).hexdigest()] = content
        return sha

    def served(self, method: str | None = None, server: str | None = None) -> list[Request]:
        with self._lock:
            return [
                request
                for request in self.requests
                if (method is None or request.method == method)
                and (server is None or request.server == server)
            ]

    def requested_files(self, method: str = "GET") -> list[str]:
        """The file names (after ``/resolve/<rev>/``) requested from the Hub with ``method``."""
        names = []
        for request in self.served(method, "hub"):
            match = _RESOLVE.match(request.path)
            if match:
                names.append(unquote(match["filename"]))
        return names

    def bytes_served(self, server: str | None = None) -> int:
        """Body bytes sent so far (by ``server``: "hub" or "cdn"), over every recorded request."""
        return sum(request.bytes_sent for request in self.served(server=server))

    def clear_log(self) -> None:
        with self._lock:
            self.requests.clear()

    def _record(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)


_RESOLVE = re.compile(r"^/(?P<repo>[^/]+(?:/[^/]+)?)/resolve/(?P<revision>[^/]+)/(?P<filename>.+)$")


def _git_blob_sha1(content: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


def _handler(hub: HubServer, role: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"
        request_record: Request

        def log_message(self, format: str, *args: object) -> None:  # keep test output clean
            pass

        def do_HEAD(self) -> None:
            self._serve(body=False)

        def do_GET(self) -> None:
            self._serve(body=True)

        def _serve(self, body: bool) -> None:
            self.request_record = Request(
                role, self.command, self.path, self.headers.get("Range"), self.headers.get("Authorization")
            )
            hub._record(self.request_record)
            if role == "cdn":
                self._serve_blob(body)
            else:
                self._serve_resolve(body)

        def _error(self, status: int, code: str | None, commit: str | None = None) -> None:
            self.send_response(status)
            if code:
                self.send_header("X-Error-Code", code)
                self.send_header("X-Error-Message", code)
            if commit:
                self.send_header("X-Repo-Commit", commit)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _serve_resolve(self, body: bool) -> None:
            match = _RESOLVE.match(self.path)
            if match is None:
                self._error(404, None)
                return
            repo = hub.repos.get(match["repo"])
            if repo is None:
                self._error(401, "RepoNotFound")
                return
            if repo.token is not None and self.headers.get("Authorization") != f"Bearer {repo.token}":
                self._error(401, "RepoNotFound")
                return
            revision = unquote(match["revision"])
            commit = revision if revision in repo.commits else repo.refs.get(revision)
            if commit is None:
                self._error(404, "RevisionNotFound")
                return
            filename = unquote(match["filename"])
            content = repo.commits[commit].get(filename)
            if content is None:
                self._error(404, "EntryNotFound", commit)
                return
            if filename.endswith(LFS_SUFFIXES):
                sha256 = hashlib.sha256(content).hexdigest()
                self.send_response(302)
                self.send_header("Location", f"{hub.cdn}/blobs/{sha256}")
                self.send_header("X-Repo-Commit", commit)
                self.send_header("X-Linked-Etag", f'"{sha256}"')
                self.send_header("X-Linked-Size", str(len(content)))
                self.send_header("ETag", f'"{_git_blob_sha1(content)}"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("X-Repo-Commit", commit)
            self.send_header("ETag", f'"{_git_blob_sha1(content)}"')
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            if body:
                self._send(content)

        def _send(self, data: bytes) -> None:
            self.wfile.write(data)
            with hub._lock:
                self.request_record.bytes_sent += len(data)

        def _serve_blob(self, body: bool) -> None:
            sha256 = self.path.rsplit("/", 1)[-1]
            content = hub.blobs.get(sha256)
            if content is None:
                self._error(404, None)
                return
            start, end = 0, len(content) - 1
            requested = self.headers.get("Range")
            if requested:
                match = re.fullmatch(r"bytes=(\d+)-(\d*)", requested)
                if match is None or int(match[1]) >= len(content):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(content)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                start = int(match[1])
                end = min(int(match[2]), end) if match[2] else end
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{end}/{len(content)}")
            else:
                self.send_response(200)
            self.send_header("Content-Length", str(end + 1 - start))
            self.end_headers()
            if not body:
                return
            if sha256 in hub.drop_once:
                hub.drop_once.discard(sha256)
                self._send(content[start : start + (end + 1 - start) // 2])
                self.wfile.flush()
                self.close_connection = True
                return  # the response ends short of Content-Length: the client sees a broken transfer
            self._send(content[start : end + 1])

    return Handler
