"""ValidatedFile.save (basalt.storage.files): a settings, basal or calibration file
replaced by a validated one, its checksum file first, then read back. Loaded for each
save and forgotten after it: a running pump seldom saves a file."""

import json

from basalt.core.errors import ConfigError, StorageFault
from basalt.core.journal import crc
from basalt.storage.files import SUM_SUFFIX, guarded


def save(file, obj, validated):
    """ValidatedFile.save(obj, validated): returns what the validator returned."""
    if validated is None:
        validated = file.validator(obj)
    data = json.dumps(obj).encode()
    storage = file.storage
    name = file.name
    old = None
    try:
        old = storage.read(name)
    except OSError:
        pass
    line = _sum_line(data)
    if old is not None:
        try:
            file._check_sum(bytes(old))  # never bless bytes that rotted
            line += " " + _sum_line(bytes(old))
        except ConfigError:
            pass
    guarded("replace", name + SUM_SUFFIX, storage.replace, name + SUM_SUFFIX, line.encode())
    guarded("replace", name, storage.replace, name, data)
    try:
        back = storage.read(name)
    except OSError:
        back = None
    if back is None or bytes(back) != data:
        file.restore(old)  # a boot must not load what the pump never applied
        raise StorageFault(name, "read back", OSError(5, "read back differs"),
                           "%s not saved: read back differs" % name)
    return validated


def _sum_line(data):
    return "%d %d" % (crc(data), len(data))
