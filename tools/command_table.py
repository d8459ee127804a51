"""The command table as a Markdown table, for the developer guide:

    python -m tools.command_table          print it
    python -m tools.command_table --check  exit 1 if docs/developer-guide.md's copy differs

Read from basalt.core.commands, so the guide cannot drift from the firmware.
"""

import argparse
import sys

from basalt.core.command_docs import DOCS
from basalt.core.commands import (
    ACK,
    ALARMS_ACKED,
    CHOICE,
    CLOCK,
    COMMANDS,
    DELIVERING,
    MILLI,
    NAME,
    SEGMENTS,
    STATE_KNOWN,
    SYRINGE,
    TABLE,
    WHOLE,
    table,
)
from basalt.core.units import fmt_milli
from tools import ROOT

GUIDE = ROOT + "/docs/developer-guide.md"
BEGIN = "<!-- command table: python -m tools.command_table -->"
END = "<!-- end of command table -->"
GUARDS = {ACK: "boot screen read", DELIVERING: "delivering",
          ALARMS_ACKED: "stop alarms acknowledged", STATE_KNOWN: "state known, settings valid"}


def field_text(field):
    kind = field.kind
    if kind in (MILLI, WHOLE):
        hi = "syringe" if field.hi == SYRINGE else None
        if kind == MILLI:
            span = "%s–%s %s in %s" % (fmt_milli(field.lo), hi or fmt_milli(field.hi),
                                       field.unit, fmt_milli(field.step))
        else:
            span = "%d–%s %s" % (field.lo, hi or field.hi, field.unit)
        text = "`%s` %s" % (field.key, span)
    elif kind == CHOICE:
        text = "`%s` one of %s" % (field.key, ", ".join(field.choices))
    else:
        text = "`%s` %s" % (field.key, {NAME: "1–16 characters", CLOCK: '"HH:MM"',
                                        SEGMENTS: '[["HH:MM", U/h], ...]',
                                        TABLE: "a settings table"}.get(kind, "an alarm code"))
    return text + (" (optional)" if field.optional else "")


def markdown():
    lines = [BEGIN, "", "| command | fields (pump units inside, user units outside) | guards |"
             " handler | what it does |", "|---|---|---|---|---|"]
    for command in table():
        fields = "; ".join(field_text(f) for f in command.fields) or "—"
        if command.one_of:
            fields += "; " + command.one_of[3]
        guards = ", ".join(GUARDS[g] for g in command.guards) or "—"
        name = "`%s`%s" % (command.name, " (loop only)" if command.internal else "")
        lines.append("| %s | %s | %s | `%s` | %s |" % (name, fields, guards, command.handler,
                                                      DOCS.get(command.name) or "—"))
    lines += ["", "%d commands." % len(COMMANDS), "", END]
    return "\n".join(lines)


def guide_copy():
    text = open(GUIDE).read()
    start, end = text.find(BEGIN), text.find(END)
    return None if start < 0 or end < 0 else text[start:end + len(END)]


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tools.command_table",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="compare with the copy in docs/developer-guide.md")
    args = parser.parse_args(argv)
    if not args.check:
        print(markdown())
        return 0
    if guide_copy() != markdown():
        print("docs/developer-guide.md: the command table is stale; paste the output of "
              "python -m tools.command_table between its markers", file=sys.stderr)
        return 1
    print("docs/developer-guide.md: the command table matches the firmware")
    return 0


if __name__ == "__main__":
    sys.exit(main())
