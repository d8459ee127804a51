"""Strict JSON: one check that runs before json.loads, the same on CPython and MicroPython.

json.loads on both interpreters keeps the last of two equal keys ({"a": 1, "a": 2} is
{"a": 2}): a settings file with a second "limits" table would pass every check with
values nobody reviewed. MicroPython's json has no object_pairs_hook, and the two
interpreters' parsers differ at the edges (leading zeros, NaN, control characters,
surrogate escapes, nesting CPython's recursion limit cannot take). So check(text) scans
the text once and refuses, with a typed ConfigError on one line:

  a key that appears twice in one table  naming the key path and both line numbers
  nesting deeper than max_depth          naming the line (the scan itself is iterative:
                                         2,000 levels are a refusal, not a RecursionError)
  anything that is not strict JSON       naming the line and what was expected
  \\uD800-\\uDFFF escapes                  (MicroPython turns a surrogate pair into two
                                         broken characters; CPython into one): write the
                                         character itself

What it accepts, json.loads reads the same way on both interpreters; loads() is the
two steps. Why a scanner and not a parser of our own: the values are built by the
interpreter's own (C) json, so numbers mean exactly what they meant before; the scan
builds nothing but one small table of keys per open object (at most max_depth of them
at a time) and the keys' text. It walks the bytes, not the str: on MicroPython
indexing a str with non-ASCII text in it costs a scan from its start.
"""

import json

from basalt.core.errors import ConfigError

DEFAULT_MAX_DEPTH = 16  # files with a schema of their own pass a tighter one

_SPACE = (0x20, 0x0A, 0x0D, 0x09)  # ints: `int in bytes` is not on every port
_ESCAPED = {0x22: '"', 0x5C: "\\", 0x2F: "/", 0x62: "\b", 0x66: "\f", 0x6E: "\n",
            0x72: "\r", 0x74: "\t"}
_LITERALS = ((0x74, b"true"), (0x66, b"false"), (0x6E, b"null"))

# Parser states.
_VALUE = 0
_KEY = 1
_AFTER = 2


class _Refusal(Exception):
    """Raised inside the scan; check() turns it into one ConfigError."""

    def __init__(self, line, problem):
        self.line = line
        self.problem = problem


def loads(text, max_depth=DEFAULT_MAX_DEPTH, name="settings"):
    """check(text), then json.loads(text)."""
    check(text, max_depth, name)
    return json.loads(text)


def check(text, max_depth=DEFAULT_MAX_DEPTH, name="settings"):
    """None if `text` (str or bytes) is one strict JSON value with no key twice in a table
    and at most max_depth levels of tables and lists; else ConfigError on one line."""
    data = text.encode() if isinstance(text, str) else text
    try:
        _scan(data, max_depth)
    except _Duplicate as dup:
        raise ConfigError(dup.path, dup.key, "each key once in a table (JSON keeps only "
                          "the last, silently)", "duplicate key %s on line %d and again on line "
                          "%d" % (_quote(dup.key), dup.first, dup.line))
    except _Refusal as refusal:
        if refusal.problem.startswith("nested"):
            raise ConfigError(name, "(the file)", "at most %d levels of tables and lists "
                              "(what the file's schema uses)" % max_depth,
                              "%s on line %d" % (refusal.problem, refusal.line))
        raise ConfigError(name, "(the file)", "JSON with whole-line // comments",
                          "not valid JSON (line %d: %s)" % (refusal.line, refusal.problem))


class _Duplicate(Exception):
    def __init__(self, path, key, first, line):
        self.path = path
        self.key = key
        self.first = first
        self.line = line


def _quote(key):
    return '"%s"' % key


def _scan(data, max_depth):
    """The iterative scan; raises _Refusal or _Duplicate."""
    # Two entries per open table or list (flat: no list per frame): keys {key bytes:
    # line} or None for a list, then the key being read (tables) or the item count.
    stack = []
    escaped = []  # one list for every key's escaped pieces, emptied after each key
    size = len(data)
    pos = 0
    line = 1
    state = _VALUE
    while True:
        # Whitespace: the only place a raw newline may be (strings refuse them).
        while pos < size and data[pos] in _SPACE:
            if data[pos] == 0x0A:
                line += 1
            pos += 1
        if pos >= size:
            if state == _AFTER and not stack:
                return
            raise _Refusal(line, "the text ends early")
        c = data[pos]
        if state == _VALUE:
            if c == 0x7B or c == 0x5B:  # { [
                if len(stack) >= 2 * max_depth:
                    raise _Refusal(line, "nested more than %d levels deep" % max_depth)
                pos += 1
                while pos < size and data[pos] in _SPACE:
                    if data[pos] == 0x0A:
                        line += 1
                    pos += 1
                close = 0x7D if c == 0x7B else 0x5D
                if pos < size and data[pos] == close:
                    pos += 1
                    state = _AFTER
                    _count(stack)
                    continue
                stack.append({} if c == 0x7B else None)
                stack.append(0 if c == 0x5B else None)
                state = _KEY if c == 0x7B else _VALUE
                continue
            if c == 0x22:
                pos = _string(data, pos, line, None)
            elif c == 0x2D or _digit(c):
                pos = _number(data, pos, line)
            else:
                pos = _literal(data, pos, line)
            _count(stack)
            state = _AFTER
        elif state == _KEY:
            if c != 0x22:
                raise _Refusal(line, "expected a key in double quotes")
            start = pos + 1
            pos = _string(data, pos, line, escaped)
            # The key's UTF-8 bytes: a slice when it has no escapes (one allocation).
            if escaped:
                key = "".join(escaped).encode()
                del escaped[:]
            else:
                key = data[start:pos - 1]
            keys = stack[-2]
            if key in keys:
                raise _Duplicate(_path(stack, key), key.decode(), keys[key], line)
            keys[key] = line
            stack[-1] = key
            while pos < size and data[pos] in _SPACE:
                if data[pos] == 0x0A:
                    line += 1
                pos += 1
            if pos >= size or data[pos] != 0x3A:
                raise _Refusal(line, "expected ':' after key %s" % _quote(key.decode()))
            pos += 1
            state = _VALUE
        else:  # _AFTER a value
            if not stack:
                raise _Refusal(line, "more text after the value")
            is_table = stack[-2] is not None
            if c == 0x2C:  # ,
                pos += 1
                state = _KEY if is_table else _VALUE
            elif c == (0x7D if is_table else 0x5D):
                pos += 1
                stack.pop()
                stack.pop()
                _count(stack)
            else:
                raise _Refusal(line, "expected ',' or '%s'" % ("}" if is_table else "]"))


def _count(stack):
    """A value ended inside a list: the next one is the list's next item."""
    if stack and stack[-2] is None:
        stack[-1] += 1


def _path(stack, key):
    """The key path of `key` in the innermost table: tables by key, lists by [index]."""
    parts = []
    for i in range(0, len(stack) - 2, 2):
        keys, where = stack[i], stack[i + 1]
        if keys is None:
            parts.append("[%d]" % where)
        else:
            parts.append(("." if parts else "") + where.decode())
    parts.append(("." if parts else "") + key.decode())
    return "".join(parts)


def _string(data, pos, line, chars):
    """The end of the string starting at data[pos] (a quote). With a list, and only if
    the string holds an escape, its text (escapes decoded) is appended in pieces: a key
    written with escapes is the same key. Without an escape the list stays empty."""
    size = len(data)
    pos += 1
    start = pos
    escaped = False
    while True:
        if pos >= size:
            raise _Refusal(line, "a string is not closed")
        c = data[pos]
        if c == 0x22:
            if chars is not None and escaped and start < pos:
                chars.append(data[start:pos].decode())
            return pos + 1
        if c < 0x20:
            raise _Refusal(line, "a control character (code %d) inside a string; write it "
                           "as an escape" % c)
        if c == 0x5C:
            if chars is not None and start < pos:
                chars.append(data[start:pos].decode())
            escaped = True
            if pos + 1 >= size:
                raise _Refusal(line, "a string is not closed")
            e = data[pos + 1]
            if e == 0x75:  # \uXXXX
                digits = data[pos + 2:pos + 6]
                if len(digits) != 4 or not _all_hex(digits):
                    raise _Refusal(line, "\\u must be followed by 4 hex digits")
                code = int(digits.decode(), 16)
                if 0xD800 <= code <= 0xDFFF:
                    raise _Refusal(line, "\\u%s is half of a surrogate pair; write the "
                                   "character itself" % digits.decode())
                if chars is not None:
                    chars.append(chr(code))
                pos += 6
            elif e in _ESCAPED:
                if chars is not None:
                    chars.append(_ESCAPED[e])
                pos += 2
            else:
                raise _Refusal(line, "unknown escape \\%s in a string" % chr(e))
            start = pos
            continue
        pos += 1


def _digit(c):
    return 0x30 <= c <= 0x39


def _all_hex(chunk):
    for c in chunk:
        if not (_digit(c) or 0x41 <= c <= 0x46 or 0x61 <= c <= 0x66):
            return False
    return True


def _number(data, pos, line):
    """The end of the number at data[pos]: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?"""
    size = len(data)
    if data[pos] == 0x2D:
        pos += 1
    if pos >= size or not _digit(data[pos]):
        raise _Refusal(line, "a number needs digits")
    if data[pos] == 0x30 and pos + 1 < size and _digit(data[pos + 1]):
        raise _Refusal(line, "a number may not start with 0 (leading zeros)")
    pos = _digits(data, pos)
    if pos < size and data[pos] == 0x2E:
        if pos + 1 >= size or not _digit(data[pos + 1]):
            raise _Refusal(line, "digits must follow a decimal point")
        pos = _digits(data, pos + 1)
    if pos < size and data[pos] in (0x45, 0x65):
        pos += 1
        if pos < size and data[pos] in (0x2B, 0x2D):
            pos += 1
        if pos >= size or not _digit(data[pos]):
            raise _Refusal(line, "digits must follow an exponent")
        pos = _digits(data, pos)
    return pos


def _digits(data, pos):
    size = len(data)
    while pos < size and _digit(data[pos]):
        pos += 1
    return pos


def _literal(data, pos, line):
    c = data[pos]
    for first, word in _LITERALS:
        if c == first:
            if data[pos:pos + len(word)] != word:
                break
            return pos + len(word)
    raise _Refusal(line, "expected a value (a table, list, string, number, true, false or "
                   "null)")
