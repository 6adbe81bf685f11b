"""Defaults, gathered in one place so that every policy reads from the same numbers."""

from __future__ import annotations

import httpx2

__all__ = [
    "BACKOFF_CAP",
    "BACKOFF_INITIAL",
    "BASE_URL_ENV",
    "DEFAULT_BASE_URL",
    "DEFAULT_CONCURRENCY",
    "DEFAULT_DEADLINE",
    "DEFAULT_DOWNLOAD_TIMEOUT",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_TIMEOUT",
    "DOWNLOAD_CHUNK_SIZE",
    "DOWNLOAD_WRITE_BATCH",
    "MAX_BODY_BYTES",
    "MAX_ERROR_BODY_BYTES",
    "MAX_REDIRECTS",
    "MAX_RETRY_AFTER",
    "PUBLISHED_PRICES",
    "RETRYABLE_STATUS_CODES",
    "SANDBOX_DIALECTS",
    "SANDBOX_FAULTS",
    "TOKEN_ENV",
]

TOKEN_ENV = "VOIPANO_TOKEN"
BASE_URL_ENV = "VOIPANO_BASE_URL"
DEFAULT_BASE_URL = "https://voipano.com/api/v1/webservice"

# A call setup can take a few seconds on the provider's side; connecting should not.
DEFAULT_TIMEOUT = httpx2.Timeout(30.0, connect=5.0, pool=10.0)
# Recordings can be large and slow to produce; allow long gaps between chunks.
DEFAULT_DOWNLOAD_TIMEOUT = httpx2.Timeout(120.0, connect=5.0, pool=10.0)

# One attempt of an API call, from sending to the last byte of the answer (for a download,
# to its headers), must end within this many seconds: timeouts alone bound only the gap
# between two reads, and a server that drip-feeds bytes would hold a call forever.
DEFAULT_DEADLINE = 60.0

DEFAULT_MAX_RETRIES = 2
BACKOFF_INITIAL = 0.5
BACKOFF_CAP = 8.0
# A server asking us to wait longer than this gets its error raised instead.
MAX_RETRY_AFTER = 60.0
RETRYABLE_STATUS_CODES = frozenset({408, 429, 500, 502, 503, 504})

# Pages fetched at once by ``call_reports`` after the first page tells ``last_page``.
DEFAULT_CONCURRENCY = 4

# A successful JSON answer larger than this (after decompression) is refused, so a huge
# or endless body cannot exhaust memory; the largest real page is far below it.
MAX_BODY_BYTES = 8 * 1024 * 1024
# Error bodies are read up to this size (after decompression), and the rest is dropped.
MAX_ERROR_BODY_BYTES = 64 * 1024
MAX_REDIRECTS = 5

DOWNLOAD_CHUNK_SIZE = 64 * 1024
# Downloads are written to disk from a worker thread in batches of this size, so a slow
# disk never blocks the event loop and a fast one pays one thread hop per batch.
DOWNLOAD_WRITE_BATCH = 512 * 1024

# The vendor's published prices, in credit units, for the charged endpoints.
PUBLISHED_PRICES = {"/call-otp": 160, "/click-to-call": 80, "/secure-call": 120}

# How the sandbox (voipano_async.testing) may answer: as the vendor's samples, or as a
# PHP/Laravel server drifts from them. Here, so that the command line can offer the choice
# without importing the sandbox.
SANDBOX_DIALECTS = ("published", "php")
# The names of the sandbox's random faults (voipano_async.testing.FAULT_KINDS, which a
# test holds equal to these), for the command line to offer without importing it.
SANDBOX_FAULTS = (
    "500",
    "502",
    "503",
    "429",
    "html",
    "drop",
    "drop-after",
    "slow",
    "drip",
    "truncated",
)
