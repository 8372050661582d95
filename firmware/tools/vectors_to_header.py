#!/usr/bin/env python3
"""Turn protocol test vectors (JSON) into a C++ include for the host tests.

Input: one or more JSON files shaped like tests/vectors/protocol.json:
  {"valid":   [{"name", "type", <fields>..., "frame_hex"}, ...],
   "invalid": [{"name", "frame_hex", "verdict"}, ...]}
Fields may sit at the top level of an entry or under "fields"; a few common
spellings are accepted (see FIELD_ALIASES) so the reader does not break on
naming, but an entry whose fields cannot be understood is an error, never
silently skipped: a vector we cannot check must fail the build.

Output (stdout or -o FILE): C++ defining VALID[] and INVALID[] tables that
firmware/host/test_vectors.cpp checks byte for byte against proto.cpp.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

TYPES = {
    "HELLO": 1,
    "HELLO_ACK": 2,
    "SWIPE": 3,
    "RESULT": 4,
    "HEARTBEAT": 5,
    "NAK": 6,
}
REASONS = {
    "OK": 0,
    "BAD_CRC": 1,
    "UNSUPPORTED_VERSION": 2,
    "UNKNOWN_TYPE": 3,
    "TOO_LONG": 4,
    "BAD_PAYLOAD": 5,
    "NOT_READY": 6,
    "BAD_FRAMING": 7,
}
ROLES = {"UNSET": 0, "NONE": 0, "IN": 1, "ENTRANCE": 1, "OUT": 2, "EXIT": 2}
STATUSES = {"KO": 0, "OK": 2}
# Verdicts that mean "the decoder yields nothing" (an empty frame).
NO_EVENT = {None, "", "NONE", "IGNORED", "IGNORE", "EMPTY", "SKIP"}

FIELD_ALIASES = {
    "seq": ["seq", "sequence"],
    "role": ["role"],
    "session": ["session", "session_id"],
    "hardware_id": ["hardware_id", "hw_id", "hardware_id_hex", "hwid"],
    "fw": ["fw", "firmware", "fw_version", "firmware_version", "version_fw"],
    "fw_major": ["fw_major", "firmware_major"],
    "fw_minor": ["fw_minor", "firmware_minor"],
    "fw_patch": ["fw_patch", "firmware_patch"],
    "accepted": ["accepted"],
    "heartbeat_ms": ["heartbeat_ms", "heartbeat", "heartbeat_interval_ms"],
    "text": ["text", "message", "display_text"],
    "uid": ["uid", "uid_hex", "card", "card_uid"],
    "status": ["status"],
    "reason": ["reason", "reason_code"],
    "detail": ["detail"],
}


class VectorError(Exception):
    pass


def norm_name(s: str) -> str:
    out = []
    for i, c in enumerate(s):
        # HelloAck -> HELLO_ACK, hello-ack -> HELLO_ACK
        if c.isupper() and i and s[i - 1].islower():
            out.append("_")
        out.append("_" if c in "- " else c.upper())
    return "".join(out)


def field(entry: dict[str, Any], key: str, default: Any = KeyError) -> Any:
    pools = [entry]
    for sub in ("fields", "message", "msg", "payload"):
        if isinstance(entry.get(sub), dict):
            pools.append(entry[sub])
    for pool in pools:
        for alias in FIELD_ALIASES[key]:
            if alias in pool:
                return pool[alias]
    if default is KeyError:
        raise VectorError(f"{entry.get('name')!r}: no field {key!r}")
    return default


def as_int(v: Any, names: dict[str, int], what: str) -> int:
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return v
    if isinstance(v, str):
        if v.upper() in names:
            return names[v.upper()]
        if norm_name(v) in names:
            return names[norm_name(v)]
        try:
            return int(v, 0)
        except ValueError:
            pass
    raise VectorError(f"cannot read {what} from {v!r}")


def as_bytes(v: Any, what: str) -> bytes:
    if isinstance(v, list):
        return bytes(v)
    if isinstance(v, str):
        h = v.replace(" ", "").replace(":", "").replace("-", "")
        try:
            return bytes.fromhex(h)
        except ValueError as e:
            raise VectorError(f"cannot read {what} from {v!r}") from e
    raise VectorError(f"cannot read {what} from {v!r}")


def as_text(v: Any) -> bytes:
    if v is None:
        return b""
    if isinstance(v, str):
        return v.encode("latin-1")
    return as_bytes(v, "text")


def c_bytes(b: bytes) -> str:
    return ", ".join(f"0x{x:02X}" for x in b) or "0"


def c_str(s: str) -> str:
    # Octal escapes never swallow the next character (at most 3 digits).
    body = "".join(
        c if " " <= c <= "~" and c not in '"\\?' else "".join(f"\\{b:03o}" for b in c.encode())
        for c in s
    )
    return f'"{body}"'


def message_code(e: dict[str, Any]) -> list[str]:
    t = as_int(e["type"], TYPES, "type") if not isinstance(e["type"], str) else None
    if t is None:
        t = TYPES.get(norm_name(e["type"]))
        if t is None:
            raise VectorError(f"{e.get('name')!r}: unknown type {e['type']!r}")
    lines = [f"m.type = {t};", f"m.seq = {int(field(e, 'seq', 0))};"]

    def text_lines() -> list[str]:
        txt = as_text(field(e, "text", ""))
        return [
            f"m.text_len = {len(txt)};",
            f"{{ static const uint8_t t[] = {{{c_bytes(txt)}}}; memcpy(m.text, t, {len(txt)}); }}",
        ]

    if t == 1:
        fw = field(e, "fw", None)
        if fw is None:
            fw = [field(e, "fw_major"), field(e, "fw_minor"), field(e, "fw_patch")]
        elif isinstance(fw, str):
            fw = [int(x) for x in fw.split(".")]
        hw = as_bytes(field(e, "hardware_id"), "hardware_id")
        if len(hw) != 8:
            raise VectorError(f"{e.get('name')!r}: hardware_id is not 8 bytes")
        lines += [
            f"m.role = {as_int(field(e, 'role'), ROLES, 'role')};",
            f"m.session = {int(field(e, 'session'))}UL;",
            f"{{ static const uint8_t h[] = {{{c_bytes(hw)}}}; memcpy(m.hardware_id, h, 8); }}",
            f"m.fw_major = {int(fw[0])}; m.fw_minor = {int(fw[1])}; m.fw_patch = {int(fw[2])};",
        ]
    elif t == 2:
        lines += [
            f"m.accepted = {as_int(field(e, 'accepted'), {}, 'accepted')};",
            f"m.role = {as_int(field(e, 'role'), ROLES, 'role')};",
            f"m.heartbeat_ms = {int(field(e, 'heartbeat_ms'))};",
        ] + text_lines()
    elif t == 3:
        uid = as_bytes(field(e, "uid"), "uid")
        lines += [
            f"m.uid_len = {len(uid)};",
            f"{{ static const uint8_t u[] = {{{c_bytes(uid)}}}; memcpy(m.uid, u, {len(uid)}); }}",
        ]
    elif t == 4:
        lines += [f"m.status = {as_int(field(e, 'status'), STATUSES, 'status')};"] + text_lines()
    elif t == 6:
        lines += [
            f"m.reason = {as_int(field(e, 'reason'), REASONS, 'reason')};",
            f"m.detail = {int(field(e, 'detail', 0))};",
        ]
    return lines


def convert(paths: list[str]) -> str:
    out = [
        "// Generated by firmware/tools/vectors_to_header.py from:",
        *[f"//   {p}" for p in paths],
        "// Do not edit.",
        "",
    ]
    valid_rows, invalid_rows = [], []
    n = 0
    for path in paths:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
        if not isinstance(doc, dict) or "valid" not in doc:
            raise VectorError(f"{path}: expected an object with a 'valid' list")
        for e in doc.get("valid", []):
            frame = as_bytes(e["frame_hex"], "frame_hex")
            out.append(f"static const uint8_t VF{n}[] = {{{c_bytes(frame)}}};")
            out.append(f"static void VM{n}(proto::Message &m) {{")
            out.append("    proto::clear(m);")
            out += ["    " + line for line in message_code(e)]
            out.append("}")
            valid_rows.append(f"    {{{c_str(str(e.get('name', n)))}, VM{n}, VF{n}, {len(frame)}}},")
            n += 1
        for e in doc.get("invalid", []):
            frame = as_bytes(e["frame_hex"], "frame_hex")
            v = e.get("verdict")
            if isinstance(v, str) and v.upper() in NO_EVENT or v is None:
                code = -1
            else:
                code = as_int(v, REASONS, "verdict")
            out.append(f"static const uint8_t IF{n}[] = {{{c_bytes(frame)}}};")
            # The NAK answering it (seq, detail), when the vectors say (-1: unchecked).
            nseq, ndet = int(e.get("seq", -1)), int(e.get("detail", -1))
            invalid_rows.append(
                f"    {{{c_str(str(e.get('name', n)))}, IF{n}, {len(frame)}, {code}, {nseq}, {ndet}}},"
            )
            n += 1
    out.append("static const ValidVector VALID[] = {")
    out += valid_rows or ["    {0, 0, 0, 0},"]
    out.append("};")
    out.append(f"static const unsigned N_VALID = {len(valid_rows)};")
    out.append("static const InvalidVector INVALID[] = {")
    out += invalid_rows or ["    {0, 0, 0, 0, 0, 0},"]
    out.append("};")
    out.append(f"static const unsigned N_INVALID = {len(invalid_rows)};")
    return "\n".join(out) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("json", nargs="+")
    ap.add_argument("-o", "--output")
    a = ap.parse_args()
    try:
        text = convert(a.json)
    except (VectorError, KeyError, ValueError, TypeError) as e:
        print(f"vectors_to_header: {e}", file=sys.stderr)
        return 1
    if a.output:
        with open(a.output, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
