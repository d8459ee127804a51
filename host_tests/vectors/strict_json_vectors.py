"""Strict JSON vectors for the MicroPython lane: the settings reader must accept, refuse
and word its refusals the same on CPython and MicroPython (a key twice, nesting deeper
than the schema, 2,000 levels, and what is not strict JSON)."""

from basalt.core import strict_json
from basalt.core.settings import MAX_DEPTH, load_settings, parse_settings_text
from vectors.vectorkit import SETTINGS_TEXT, emit, error_of


def ascii_only(value):
    """Text with every non-ASCII or control character as <U+XXXX>: json.dumps escapes
    them differently on CPython and MicroPython, and the lane compares bytes."""
    if isinstance(value, str):
        out = []
        for ch in value:
            out.append(ch if 32 <= ord(ch) < 128 else "<U+%04X>" % ord(ch))
        return "".join(out)
    if isinstance(value, dict):
        return {ascii_only(k): ascii_only(value[k]) for k in value}
    if isinstance(value, (list, tuple)):
        return [ascii_only(item) for item in value]
    return value


def parsed(text):
    return ascii_only(error_of(parse_settings_text, text))


CASES = (
    '{"a": 1, "b": [1, 2.5, -0.125, 1e2, true, false, null], "c": {"d": "e"}}',
    '{"a": 1,\n "a": 2}',
    '{"x": {"y": 1,\n\n "y": 1}}',
    '{"x": [[1, {"k": 1,\n "k": 2}]]}',
    '{"\\u006bey": 1, "key": 2}',
    '{"caf\u00e9": 1, "caf\\u00e9": 2}',
    '{"a\\nb": 1, "a\\u000ab": 2}',
    '{"s": "\\"\\\\\\/\\b\\f\\n\\r\\t\\u0041\\u00e9\\u20ac"}',
    '{"s": "\u00e9\u20ac\U0001f600"}',
    '{"s": "\\ud83d\\ude00"}',
    '{"s": "\\ud83d"}',
    '{"s": "\\x41"}',
    '{"s": "\\u12"}',
    '{"a": 01}', '{"a": -}', '{"a": 1.}', '{"a": 1e}', '{"a": .5}', '{"a": +1}',
    '{"a": NaN}', '{"a": Infinity}', '{"a": -Infinity}', '{"a": tru}', '{"a": nul}',
    '{"a": 1,}', '[1, 2,]', '[,]', '{,}', '{"a" 1}', '{a: 1}', "{'a': 1}",
    '{"a": 1} x', '{"a": 1}\n\n{"b": 2}', '', '   ', '\n\n', '"just text"', '42', 'null',
    '{"a": "tab\there"}', '{"a": "new\nline"}', '{"a": "open', '{"a": [1, 2}', '[1, 2',
    '{"a": {}', '{}', '[]', '[[[[[]]]]]', '[[[[[[]]]]]]', '{"a": {"b": {"c": {"d": {}}}}}',
    '{"a": {"b": {"c": {"d": {"e": {}}}}}}',
    '{"n": 12345678901234567890, "m": -0, "f": 0.001, "e": 2E-3}',
    ' \t\r\n{ "a" : [ 1 , 2 ] } \r\n',
)

for text in CASES:
    emit("case", [ascii_only(text), parsed(text)])

emit("depth", MAX_DEPTH)
for levels in (5, 6, 50, 2000):
    emit("lists", [levels, parsed("[" * levels + "]" * levels)])
    emit("tables", [levels, parsed("{" + '"a": {' * (levels - 1) + "}" * levels)])
    emit("generic", [levels, error_of(strict_json.loads, "[" * levels + "]" * levels)])
emit("unclosed_2000", parsed("[" * 2000))

# The settings file with every lie a review found: a second limits table raising the
# limits to the hard maxima, a limit twice, a profile twice, a loop key twice.
LIMITS_AGAIN = ('  "limits": {"max_bolus_u": 25, "max_basal_u_h": 30, "max_iob_u": 100,\n'
                '             "max_daily_u": 300},\n')
BODY = SETTINGS_TEXT.replace('  "alarms":', LIMITS_AGAIN + '  "alarms":')
emit("second_limits", parsed(BODY))
emit("limit_twice", parsed(SETTINGS_TEXT.replace('"max_iob_u": 20,',
                                                 '"max_iob_u": 20,\n   "max_iob_u": 99,')))
emit("profile_twice", parsed(SETTINGS_TEXT.replace('"Sick": [["00:00", 1.5]]',
                                                   '"Sick": [["00:00", 1.5]],\n'
                                                   '      "Day": [["00:00", 3]]')))
obj = parse_settings_text(SETTINGS_TEXT)
emit("good", [sorted(obj), error_of(lambda o: load_settings(o)[0].limits.max_bolus_mu, obj)])
