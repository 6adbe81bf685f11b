"""Serve one recording from a stdlib ``http.server``, faster than any client reads it.

The uvicorn sandbox sends a large body in pieces and is slower than the client, which
hides the client's own cost. This server writes the whole WAV with one ``sendall``, from
its own process, so a download's speed is the client's. It answers just what the download
benchmark asks: ``/services``, ``/call-reports`` (one page naming the recording) and
``/call-recordings/<cdr>``. Prints one JSON line like ``_sandbox_server.py`` once
listening, then serves until its standard input is closed.

Run: ``python benchmarks/_fast_server.py --bytes 209712044``.
"""

from __future__ import annotations

import argparse
import json
import struct
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import _common

CDR = "67bc8ea2f8f8000000000001"
PREFIX = "/api/v1/webservice"


def make_wav(size: int) -> bytes:
    """``size`` bytes: a 44-byte WAV header (8 kHz 16-bit mono) and a repeating pattern."""
    data = size - 44
    header = b"RIFF" + struct.pack("<I", size - 8) + b"WAVEfmt "
    header += struct.pack("<IHHIIHH", 16, 1, 1, 8000, 16000, 2, 16)
    header += b"data" + struct.pack("<I", data)
    block = bytes(range(256)) * 4096  # 1 MiB
    body = block * (data // len(block)) + block[: data % len(block)]
    return header + body


def handler_for(wav: bytes) -> type[BaseHTTPRequestHandler]:
    report = _common.published_report(1)
    report.update(id=CDR, call_details_record_id=CDR, has_recording=True)
    page = _common.reports_page(1, 1, page=1, per_page=10, total=1)
    page["data"]["items"] = [report]
    answers = {
        f"{PREFIX}/services": _common.dumps(_common.PUBLISHED_SERVICES),
        f"{PREFIX}/call-reports": _common.dumps(page),
    }

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the API does

        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            if path == f"{PREFIX}/call-recordings/{CDR}":
                self._answer(
                    wav,
                    "audio/wav",
                    {"Content-Disposition": f'attachment; filename="recording-{CDR}.wav"'},
                )
            elif path in answers:
                self._answer(answers[path], "application/json")
            else:
                self.send_error(404)

        def _answer(self, body: bytes, content_type: str, extra: dict[str, str] | None = None):
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (extra or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)  # one write: the whole body at once

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bytes", type=int, required=True)
    args = p.parse_args()
    wav = make_wav(args.bytes)
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(wav))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host, port = server.server_address[:2]
    info = {
        "base_url": f"http://{host}:{port}{PREFIX}",
        "token": _common.TOKEN,
        "recording_cdr": CDR,
        "recording_bytes": len(wav),
    }
    print(json.dumps(info), flush=True)
    sys.stdin.read()
    server.shutdown()


if __name__ == "__main__":
    main()
