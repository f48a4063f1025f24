"""The one reader of prediction and score files, for evaluate, submit, validate-submission and the
drop-in API: fast, strict and bounded.

Rules (each a one-line AvforgeError naming the file, or ``zip:member``):
- JSON is RFC 8259 as the official evaluator (simd-json) reads it: no ``NaN``/``Infinity``, no
  ``+1`` ``.5`` ``1.`` ``01``, no UTF-8 byte order mark (the official rejects it), nesting at most
  MAX_DEPTH deep, and a key repeated in one object is an error (which value would count?).
- ``file;score`` text may start with a BOM (pandas, which the official uses, skips it); it must be UTF-8.
- Scores are JSON numbers (never ``"0.5"`` or ``true``), finite, and probabilities in [0, 1] unless
  a caller scores logits (the drop-in ``auc``).
- Every input is bounded by MAX_BYTES: a file by its size, a zip member by its declared
  uncompressed size and again while it is streamed (a lying header stops at the cap), before parsing.
"""
from __future__ import annotations

import io
import json
import zipfile
from collections import Counter
from pathlib import Path
from typing import Mapping

import numpy as np
import orjson
import pandas as pd

from avforge.core.errors import AvforgeError, shown
from avforge.eval.flat import Ragged, flatten, listing

MAX_BYTES = 4_000_000_000  # the challenge's "< 4 GB" (decimal): a file, or a zip's members uncompressed
MAX_DEPTH = 64
BOM = b"\xef\xbb\xbf"
_CHUNK = 1 << 20

_NUMBER = b"0123456789.-+eE"
_SPACE = b" \t\n\r"
# empty row slot = "[," ",," or ",]" once whitespace is gone ("[]" is an empty list). Bits 0-1 say what a
# byte is on the left of a pair ("[" 1, "," 2), bits 2-3 which left bytes it is bad after ("," 1|2, "]" 2)
_SLOT_CODE = bytes({ord("["): 1, ord(","): 2 | (3 << 2), ord("]"): 2 << 2}.get(c, 0) for c in range(256))
# number characters kept, whitespace -> " " (stays inside its token), everything else -> newline
_TOKENS = bytes(c if c in _NUMBER else (32 if c in _SPACE else 10) for c in range(256))
_ROW = b"[,,],"
# byte classes for the JSON number grammar check on the token stream (digits 1-9 > zero > the rest)
_GAP_C, _MINUS_C, _PLUS_C, _DOT_C, _EXP_C, _ZERO_C, _DIGIT_C = 1, 2, 3, 4, 5, 6, 7
_CLASS = bytes({32: _GAP_C, 10: _GAP_C, ord("-"): _MINUS_C, ord("+"): _PLUS_C, ord("."): _DOT_C, ord("e"): _EXP_C,
                ord("E"): _EXP_C, ord("0"): _ZERO_C}.get(c, _DIGIT_C if chr(c).isdigit() and c < 128 else 0)
               for c in range(256))


# ---------------------------------------------------------------------------- bytes in, bounded

def read_bytes(path, limit: int | None = None) -> bytes:
    """A file's bytes; missing, not a file, or over ``limit`` (default MAX_BYTES) is an error."""
    path = Path(path)
    limit = MAX_BYTES if limit is None else limit
    if not path.is_file():
        raise AvforgeError("file not found" if not path.exists() else "not a regular file", path=path)
    size = path.stat().st_size
    if size >= limit:
        raise AvforgeError(f"{size / 1e9:.2f} GB, over the {limit / 1e9:g} GB limit", path=path)
    try:
        return path.read_bytes()
    except OSError as exc:
        raise AvforgeError(f"cannot read ({exc.strerror or exc})", path=path) from None


def read_zip(path, allowed: tuple[str, ...], limit: int | None = None) -> dict[str, bytes]:
    """The members of a zip holding only (and at least one of) ``allowed`` names at its top level.

    Their uncompressed sizes together must stay under ``limit`` (default MAX_BYTES): checked on the
    declared sizes first, then while streaming each member (a lying header stops at the cap).
    Damaged (bad CRC), encrypted or oddly compressed zips are one-line errors naming the zip.
    """
    path = Path(path)
    limit = MAX_BYTES if limit is None else limit
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            names = [i.filename for i in infos]
            wrong = [n for n in names if n not in allowed]
            if wrong or not names or len(set(names)) != len(names):
                what = listing("members not allowed", wrong) if wrong else "no or repeated members"
                raise AvforgeError(f"{what}: the zip must hold exactly {' and/or '.join(allowed)} at its top level",
                                   path=path)
            encrypted = [i.filename for i in infos if i.flag_bits & 0x1]
            if encrypted:
                raise AvforgeError(listing("encrypted members (upload an unencrypted zip)", encrypted), path=path)
            declared = sum(i.file_size for i in infos)
            if declared >= limit:
                raise AvforgeError(f"members hold {declared / 1e9:.2f} GB uncompressed, over the "
                                   f"{limit / 1e9:g} GB limit", path=path)
            out, total = {}, 0
            for info in infos:
                parts = []
                with zf.open(info) as member:
                    while chunk := member.read(_CHUNK):
                        total += len(chunk)
                        if total >= limit:
                            raise AvforgeError(f"{shown(info.filename)} inflates past the {limit / 1e9:g} GB "
                                               "limit (its header understates its size)", path=path)
                        parts.append(chunk)
                out[info.filename] = b"".join(parts)
            return out
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError, EOFError,
            OSError, ValueError) as exc:
        raise AvforgeError(f"not a readable zip ({type(exc).__name__}: {exc})", path=path) from None


def decode_text(data: bytes, source: str) -> str:
    """UTF-8 text; a leading BOM is skipped (text files only)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise AvforgeError(f"not UTF-8 text (byte {exc.start}): save it as UTF-8", path=source) from None


# ---------------------------------------------------------------------------- JSON

def parse_json(data: bytes, source: str):
    """Strict JSON (see module rules). orjson checks the grammar; keys repeated in an object are found
    by a second, pair-keeping parse only when the text holds more keys than the parsed result."""
    if data.startswith(BOM):
        raise AvforgeError("starts with a UTF-8 byte order mark, which the official evaluator rejects: "
                           "save it as UTF-8 without BOM", path=source)
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        word = data[exc.pos:exc.pos + 9].lstrip(b"-")
        what = "NaN/Infinity are not JSON numbers" if word.startswith((b"NaN", b"Infinity")) else str(exc)
        raise AvforgeError(f"not valid JSON ({what})", path=source) from None
    if _depth_over(obj, MAX_DEPTH):
        raise AvforgeError(f"JSON nested deeper than {MAX_DEPTH} levels", path=source)
    if isinstance(obj, (dict, list)):
        _check_duplicate_keys(data, obj, source)
    return obj


def _depth_over(obj, limit: int) -> bool:
    level = [obj]
    for _ in range(limit):
        level = [v for o in level if isinstance(o, (dict, list)) for v in (o.values() if isinstance(o, dict) else o)
                 if isinstance(v, (dict, list))]
        if not level:
            return False
    return True


def _count_keys(obj) -> int:
    n, stack = 0, [obj]
    while stack:
        o = stack.pop()
        if isinstance(o, dict):
            n += len(o)
            stack.extend(v for v in o.values() if isinstance(v, (dict, list)))
        elif isinstance(o, list):
            stack.extend(v for v in o if isinstance(v, (dict, list)))
    return n


def _check_duplicate_keys(data: bytes, obj, source: str) -> None:
    if data.count(b":") <= _count_keys(obj):  # every ":" outside strings starts a value: no key repeated
        return

    def unique(pairs):
        repeated = [k for k, n in Counter(k for k, _ in pairs).items() if n > 1]
        if repeated:
            raise AvforgeError(listing("duplicate keys", repeated), path=source)
        return dict(pairs)

    json.loads(data, object_pairs_hook=unique)


def parse_predictions(data: bytes, source: str) -> Ragged:
    """``{file: [[score, start, end], ...]}`` into a Ragged (M, 3) in file order (values not judged here)."""
    flat = _parse_plain(data, source)
    if flat is not None:
        return flat
    obj = parse_json(data, source)
    if not isinstance(obj, dict):
        raise AvforgeError("top level must be an object {file: [[score, start, end], ...]}", path=source)
    return flatten(obj, width=3, source=source)


def read_predictions(path) -> Ragged:
    """A prediction JSON file (see parse_predictions)."""
    return parse_predictions(read_bytes(path), str(path))


def _parse_plain(raw: bytes, source: str) -> Ragged | None:
    """Parse ``{"file": [[s, a, b], ...], ...}`` straight from bytes, or None when the file is not plain.

    Hand-written because orjson's per-number Python objects cost more than the whole evaluation.
    Keys are split on quotes (no escapes or control characters in them). With whitespace and numbers
    deleted, every value must read exactly ``:[[,,],...]``; with whitespace deleted no ``[,`` ``,,``
    ``,]`` may occur (no empty slot); every token must follow the JSON number grammar and the token
    count must be 3 per row. Anything else goes to the strict parser, which says what is wrong.
    Numbers are parsed by pandas' C reader (correctly rounded float64).
    """
    if b"\\" in raw:
        return None
    pieces = raw.split(b'"')
    del raw
    if len(pieces) < 3 or len(pieces) % 2 == 0 or pieces[0].strip() != b"{":
        return None
    keys = b"".join(pieces[1::2])
    if keys.translate(None, bytes(range(32))) != keys:
        return None
    try:
        files = [k.decode() for k in pieces[1::2]]
    except UnicodeDecodeError:
        return None
    bodies = b'"'.join(pieces[2::2])
    del pieces, keys
    code = np.frombuffer(bodies.translate(_SLOT_CODE, _SPACE), dtype=np.uint8)
    if np.any(code[:-1] & (code[1:] >> 2)):
        return None
    del code
    skeleton = bodies.translate(None, _SPACE + _NUMBER).split(b'"')
    counts = [b.count(b"[") - 1 for b in skeleton]
    expected = [b":[" + (_ROW * n)[:-1] + b"]," for n in counts]
    expected[-1] = expected[-1][:-1] + b"}"
    if skeleton != expected:
        return None
    del skeleton, expected
    tokens = bodies.translate(_TOKENS)
    del bodies
    if not _json_numbers(tokens):
        return None
    try:
        values = pd.read_csv(io.BytesIO(tokens), header=None, dtype=np.float64, engine="c",
                             na_filter=False).iloc[:, 0].to_numpy()
    except pd.errors.EmptyDataError:
        values = np.zeros(0)
    except (ValueError, pd.errors.ParserError):
        return None
    counts = np.array(counts, dtype=np.int64)
    if len(values) != 3 * int(counts.sum()):
        return None
    if len(set(files)) != len(files):
        seen, dup = set(), []
        for f in files:
            (dup.append(f) if f in seen else seen.add(f))
        raise AvforgeError(listing("duplicate keys", dup), path=source)
    offsets = np.zeros(len(files) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return Ragged(files=files, offsets=offsets, rows=values.reshape(-1, 3))


def _json_numbers(tokens: bytes, block: int = 1 << 18) -> bool:
    """Whether every token of the stream (numbers between newlines/spaces) is a JSON number as far as
    pandas would not catch it: no ``+`` or ``.`` first, no ``.`` last or before ``e``, no leading zero.
    Checked in blocks of ~``block`` bytes cut after a newline (a token never spans two): the
    temporaries stay in cache, 7x less CPU than one pass over a 30 MB stream (measured)."""
    start, n = 0, len(tokens)
    while start < n:
        end = tokens.find(b"\n", min(start + block, n))
        end = n if end < 0 else end + 1
        if not _json_numbers_block(tokens[start:end]):
            return False
        start = end
    return True


def _json_numbers_block(tokens: bytes) -> bool:
    """``_json_numbers`` on one block, on neighbouring byte classes at once (bytes.translate + numpy)."""
    c = np.frombuffer((b"\n\n" + tokens + b"\n\n").translate(_CLASS), dtype=np.uint8)
    prev2, prev, cur, nxt = c[:-3], c[1:-2], c[2:-1], c[3:]
    gap_prev, exp_prev, digit_prev = prev == _GAP_C, prev == _EXP_C, prev >= _ZERO_C
    digit_next = nxt >= _ZERO_C
    sign_next = (nxt == _PLUS_C) | (nxt == _MINUS_C)
    bad = (cur == _PLUS_C) & ~exp_prev
    bad |= (cur == _MINUS_C) & ~(gap_prev | exp_prev)
    bad |= (cur == _DOT_C) & ~(digit_prev & digit_next)
    bad |= (cur == _EXP_C) & ~(digit_prev & (digit_next | sign_next))
    bad |= ((cur == _PLUS_C) | (cur == _MINUS_C)) & ~digit_next
    bad |= (cur == _ZERO_C) & (gap_prev | ((prev == _MINUS_C) & (prev2 == _GAP_C))) & digit_next
    return not bad.any()


# ---------------------------------------------------------------------------- scores (Task 1)

def score_problem(value, probabilities: bool = True) -> str | None:
    """Why ``value`` (as parsed) is not a usable score, or None. Numbers only; bool and strings are not."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"{type(value).__name__} {shown(repr(value), 40)} is not a number"
    if not np.isfinite(value):
        return "not finite"
    if probabilities and not 0.0 <= value <= 1.0:
        return f"{value!r} is not a probability in [0, 1]"
    return None


def check_scores(scores: Mapping[str, object], source: str, probabilities: bool = True) -> dict[str, float]:
    """``{file: score}`` with every score checked by score_problem (one error listing the offenders)."""
    bad = [f"{shown(f)} ({why})" for f, v in scores.items() if (why := score_problem(v, probabilities))]
    if bad:
        rule = "probabilities in [0, 1]" if probabilities else "finite numbers"
        raise AvforgeError(listing(f"scores that are not {rule}", bad), path=source)
    return {f: float(v) for f, v in scores.items()}


def parse_score_lines(text: str, source: str, probabilities: bool = True) -> dict[str, float]:
    """``file;score`` lines (blank lines skipped) as a dict; bad lines and repeated files are errors,
    each named with its line number."""
    scores: dict[str, float] = {}
    line_of: dict[str, int] = {}
    bad, duplicates = [], []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        fields = [x.strip() for x in line.split(";")]
        if len(fields) != 2 or not fields[0]:
            bad.append(f"line {lineno} {shown(line.strip(), 40)!s} is not 'file;score'")
            continue
        name, value = fields
        try:
            number = float(value)
        except ValueError:
            number = value
        why = score_problem(number, probabilities)
        if why:
            bad.append(f"line {lineno} score {shown(value, 20)} ({why})")
        elif name in scores:
            duplicates.append(f"{name} (lines {line_of[name]} and {lineno})")
        else:
            scores[name], line_of[name] = number, lineno
    problems = [listing("bad lines", bad)] if bad else []
    if duplicates:
        problems.append(listing("duplicate files", duplicates))
    if problems:
        raise AvforgeError("; ".join(problems), path=source)
    return scores


def read_scores(path, probabilities: bool = True) -> dict[str, float]:
    """Task-1 scores from a ``{file: score}`` JSON (what ``avforge postprocess`` writes) or ``file;score`` lines."""
    data, source = read_bytes(path), str(path)
    if source.lower().endswith(".json"):
        obj = parse_json(data, source)
        if not isinstance(obj, dict):
            raise AvforgeError("expected a JSON object {file: score}", path=source)
        return check_scores(obj, source, probabilities)
    return parse_score_lines(decode_text(data, source), source, probabilities)
