"""Parsing of the suite's command-line options (registered in the root conftest.py).

Each parser takes the option's text and returns the parsed value, or raises ValueError with a
one-line message that says what was wrong and what is accepted; conftest.py turns that into a
pytest usage error.
"""

from __future__ import annotations

KNOWN_DEVICES = ("cpu", "cuda")
VERIFICATION_BATCH_SIZES = (1, 4, 64)


def _items(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def parse_devices(text: str) -> tuple[str, ...]:
    """'cpu,cuda' -> ('cpu', 'cuda'); each a known device, no repeats, at least one."""
    items = [item.lower() for item in _items(text)]
    if not items:
        raise ValueError(f"--device needs a comma-separated list; accepted devices: {', '.join(KNOWN_DEVICES)}")
    unknown = [item for item in items if item not in KNOWN_DEVICES]
    if unknown:
        raise ValueError(f"--device: unknown device {unknown[0]!r}; accepted: {', '.join(KNOWN_DEVICES)} (comma-separated)")
    return tuple(dict.fromkeys(items))


def parse_batch_sizes(text: str) -> tuple[int, ...]:
    """'1,4,64' -> (1, 4, 64); positive integers, no repeats, at least one."""
    items = _items(text)
    if not items:
        raise ValueError("--batch-sizes needs a comma-separated list of positive integers, such as 1,4,64")
    sizes = []
    for item in items:
        try:
            size = int(item)
        except ValueError:
            size = 0
        if size < 1 or str(size) != item.lstrip("+"):
            raise ValueError(f"--batch-sizes: {item!r} is not a positive integer; accepted: positive integers, comma-separated, such as 1,4,64")
        sizes.append(size)
    return tuple(dict.fromkeys(sizes))
