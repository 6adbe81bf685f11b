"""What a client may show of itself: text scrubbed of the token, requests named safely."""

from __future__ import annotations

import attrs
import httpx2

from ._phone import mask_phone_numbers
from ._types import Secret

__all__ = ["Redactor"]


@attrs.frozen
class Redactor:
    """Scrubs the token from text and names requests without it, phone numbers masked.

    Handed to whatever builds a message (errors, logs, spans) instead of the client.
    """

    token: Secret[str]
    base_url: httpx2.URL

    @property
    def secret(self) -> str:
        """The text to scrub wherever the server may echo it back."""
        return self.token.value

    def redact(self, text: str) -> str:
        return text.replace(self.token.value, "***")

    def target(self, url: httpx2.URL) -> str:
        """How a URL appears in logs and messages: API paths relative, phones masked."""
        base = self.base_url
        if (url.scheme, url.host, url.port) == (base.scheme, base.host, base.port):
            path = url.raw_path.decode("ascii", "replace")
            prefix = base.raw_path.decode("ascii", "replace").rstrip("/")
            shown = path[len(prefix) :] if path.startswith(prefix) else path
        else:
            shown = f"{url.scheme}://{url.host}{url.path}"
        return mask_phone_numbers(shown)

    def request_line(self, request: httpx2.Request) -> str:
        """``"GET /services"``: the method and the target, as errors and logs name it."""
        return f"{request.method} {self.target(request.url)}"
