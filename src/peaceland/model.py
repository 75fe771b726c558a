"""Report, Citizen and Alert: the wire contract as typed structs, validation and codecs. Pure.

API (stable; implementation to be completed):

* ``Citizen(name, peacescore)``, ``Report(...)``, ``Alert(...)`` — msgspec Structs.
* ``decode_report(payload: bytes) -> Report`` — raises ``InvalidReport(reason)`` with a precise
  reason for anything that breaks the contract (never any other exception, for any bytes).
* ``encode_report(report: Report) -> bytes`` — JSON; ``extra`` fields flattened back in, so
  ``decode_report(encode_report(r)) == r``.
* ``split_batch(body: bytes) -> list[bytes]`` — a JSON array body → the raw bytes of each item,
  untouched; any other body → ``[body]``. Raises ``InvalidReport`` when the body is not JSON.
* ``encode_alert(alert: Alert) -> bytes`` / ``decode_alert(payload: bytes) -> Alert``.
* ``MAX_REPORT_BYTES = 65536``.
"""
