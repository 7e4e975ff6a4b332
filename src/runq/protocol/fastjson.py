"""JSON through the C accelerator `_json` directly.

`import json` costs about 7 ms on a bare interpreter here, nearly all of it `re` and `enum`,
which its pure-Python fallbacks import. The client start is the hot path (every agent command
pays it twice), so the client talks JSON through `_json` and only falls back to `json` where
the accelerator is missing.
"""
from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

try:
    import _json
except ImportError:  # pragma: no cover - every CPython we support has it
    _json = None  # type: ignore[assignment]


class _ScannerContext:
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    memo: dict = {}

    @staticmethod
    def parse_constant(name: str) -> float:
        raise ValueError(f"invalid JSON constant {name}")


def _refuse(obj: Any) -> Any:
    raise TypeError(f"object of type {type(obj).__name__} is not JSON serializable")


if _json is not None:
    _scan = _json.make_scanner(_ScannerContext())  # type: ignore[arg-type]
    _encode = _json.make_encoder(
        None, _refuse, _json.encode_basestring, None, ":", ",", False, False, False
    )

    def dumps(obj: Any) -> str:
        return "".join(_encode(obj, 0))

    def loads(text: str) -> Any:
        ws = " \t\n\r"
        start = 0
        while start < len(text) and text[start] in ws:
            start += 1
        try:
            value, end = _scan(text, start)
        except Exception:
            # Error paths are cold: let the stdlib parser produce a precise ValueError.
            return _strict_loads(text)
        while end < len(text) and text[end] in ws:
            end += 1
        if end != len(text):
            raise ValueError(f"extra data at offset {end}")
        return value

    def _strict_loads(text: str) -> Any:
        import json

        return json.loads(text, parse_constant=_ScannerContext.parse_constant)

else:  # pragma: no cover
    import json as _stdjson

    def dumps(obj: Any) -> str:
        return _stdjson.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False)

    def loads(text: str) -> Any:
        return _stdjson.loads(text)
