"""How much one message may hold: a receiver checks these before it allocates anything for the message."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Limits:
    max_body_bytes: int = 64 << 20
    max_tensors: int = 64  # inputs per request, and requested outputs per request
    max_elements: int = 64 << 20  # total elements over all inputs of one request
    max_json_depth: int = 64  # rank-8 nested data needs ~12; deeper is a parser attack
    max_bytes_element: int = 16 << 20


# Clients trust the server they talk to more than servers trust clients; still bounded, never unlimited.
CLIENT_LIMITS = Limits(
    max_body_bytes=1 << 40, max_tensors=1 << 16, max_elements=1 << 40, max_json_depth=256, max_bytes_element=1 << 40
)
