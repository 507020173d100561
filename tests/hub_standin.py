"""A local stand-in for the Hugging Face hub's file server, for tests of the online path.

It answers ``HEAD`` and ``GET`` on ``/datasets/<repo>/resolve/<revision>/<path>`` the way the
hub does for a plain (non-xet) file: the commit in ``X-Repo-Commit``, the ETag, the size; every
other path is a 404. Point ``HF_ENDPOINT`` at :attr:`HubStandIn.url`.
"""
from __future__ import annotations

import hashlib
import http.server
import threading
from pathlib import Path


class HubStandIn:
    """Serve ``files`` (``{"datasets/<repo>/<path>": local file}``) at one commit."""

    def __init__(self, files: dict[str, Path], commit: str):
        self.files, self.commit, self.requests = files, commit, []
        standin = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_HEAD(self):
                self._answer(body=False)

            def do_GET(self):
                self._answer(body=True)

            def _answer(self, body):
                standin.requests.append((self.command, self.path))
                parts = self.path.lstrip("/").split("/")  # kind/namespace/name/resolve/revision/path
                local = None
                if len(parts) > 5 and parts[3] == "resolve" and parts[4] in (standin.commit, "main"):
                    local = standin.files.get("/".join(parts[:3] + parts[5:]))
                if local is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                data = Path(local).read_bytes()
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
                self.send_header("X-Repo-Commit", standin.commit)
                self.end_headers()
                if body:
                    self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def stsb_files(stsb_dir: Path, folder: Path) -> dict[str, Path]:
    """The hub dataset's parquet files, made from the original STS-B files (score / 5)."""
    from nbhelpers.stsb import HUB_DATASET, HUB_FILES, load_stsb

    files = {}
    for split, name in HUB_FILES.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        load_stsb(split, stsb_dir).to_parquet(path, index=False)
        files[f"datasets/{HUB_DATASET}/{name}"] = path
    readme = folder / "README.md"
    readme.write_text("stand-in\n")
    files[f"datasets/{HUB_DATASET}/README.md"] = readme
    return files
