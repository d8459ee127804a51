"""The pinned requirement sets: requirements.txt (full) and requirements/*.txt (subsets).

    python tools/reqsets.py --installed requirements/deploy.txt

exits 0 when the running Python has every pin of that set at exactly its version (so
`make deploy` keeps a venv that already has them, such as the full set's), else prints
what is missing and exits 1. Standard library only: the Makefile runs it with whatever
Python the venv has before anything is installed. A test reads the sets with pins().
"""

import re
import sys
from pathlib import Path

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;#]+)$")


class RequirementsError(ValueError):
    """A line pins nothing exactly, or a package is pinned twice at different versions."""


def normal(name):
    """PyPI's normalised project name (PEP 503): case and -_. runs do not matter."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(path, _seen=None):
    """{normal name: (version, file)} of a requirements file and the files it includes
    with `-r`, relative to the including file as pip reads them."""
    path = Path(path)
    found = {} if _seen is None else _seen
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.split(" #")[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("-r "):
            pins(path.parent / line[3:].strip(), found)
            continue
        match = PIN.match(line)
        if match is None:
            raise RequirementsError("%s:%d: %r is not an exact pin (name==version)"
                                    % (path, number, line))
        name, version = normal(match.group(1)), match.group(2)
        if name in found and found[name][0] != version:
            raise RequirementsError("%s:%d: %s==%s, but %s pins %s" % (
                path, number, name, version, found[name][1], found[name][0]))
        found.setdefault(name, (version, str(path)))
    return found


def missing(path):
    """["name==version (have ...)"] for each pin of the set this Python lacks."""
    from importlib import metadata
    lacking = []
    for name, (version, _) in sorted(pins(path).items()):
        try:
            have = metadata.version(name)
        except metadata.PackageNotFoundError:
            have = "none"
        if have != version:
            lacking.append("%s==%s (have %s)" % (name, version, have))
    return lacking


def main(argv=None):
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or args[0] != "--installed":
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    lacking = missing(args[1])
    for line in lacking:
        print("not installed: " + line)
    return 1 if lacking else 0


if __name__ == "__main__":
    sys.exit(main())
