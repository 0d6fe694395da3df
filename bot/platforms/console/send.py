"""The console sender: rendered text to stdout (or any text stream)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any, TextIO

from bot.deliver.ports import DestinationInfo, Outcome, SendResult


class ConsoleSender:
    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream

    async def send(
        self,
        destination: DestinationInfo,
        payloads: Sequence[Any],
        nonce: str,
        *,
        first_part: int = 0,
        resend: bool = False,
    ) -> SendResult:
        stream = self._stream or sys.stdout
        for i, text in enumerate(payloads):
            try:
                stream.write(str(text).rstrip("\n") + "\n\n")
                stream.flush()
            except (OSError, ValueError) as exc:  # closed pipe or stream
                return SendResult(Outcome.TRANSIENT, i, f"console: {exc}")
        return SendResult(Outcome.SENT, len(payloads))

    async def aclose(self) -> None:
        return None
