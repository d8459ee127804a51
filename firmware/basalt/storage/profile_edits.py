"""Basal profile edits (basalt.storage.profiles: the command table's "profiles" part)
and the check of basal.json: imported for each edit or check and forgotten after, so a
running pump keeps none of their code between edits."""

from basalt.core.basal import BasalProfiles
from basalt.core.check import exact_keys
from basalt.core.errors import BasaltError, ConfigError, StorageFault
from basalt.core.schedule import hhmm
from basalt.storage.profiles import BASAL_FILE

# Edits the applied settings hold whole: the engine has nothing left to do (its own
# delete or rename would look for a name that is gone).
_APPLIED_WHOLE = ("delete_profile", "rename_profile")


def edit(store, now_ms, how, name, segments=None):
    """ProfileStore's edits: stored first (written and read back), then applied: a
    flash fault leaves the engine's profiles as the file has them. `segments` is the
    new name for a rename."""
    pending = _plan(store, how, name, segments)
    args = () if segments is None else (segments,)
    if pending is not None:
        store.save_settings(now_ms, pending)  # validated, stored, applied
        if how in _APPLIED_WHOLE:
            return None  # the saved settings hold the edit already
        return getattr(store.engine, how)(now_ms, name, *args)
    try:
        profiles = edited(store.engine.profiles, how, name, segments)
    except (KeyError, TypeError, BasaltError):
        profiles = None  # the engine refuses it with its own message, below
    if profiles is None:
        result = getattr(store.engine, how)(now_ms, name, *args)
        _store(store, now_ms, None)
        return result
    old = store.basal_file.raw()
    _store(store, now_ms, profiles)
    try:
        return getattr(store.engine, how)(now_ms, name, *args)
    except BasaltError:
        store.basal_file.restore(old)
        raise


def _store(store, now_ms, profiles):
    try:
        save_basal(store, profiles)
    except StorageFault as fault:
        if store.on_fault is not None:
            store.on_fault(fault, now_ms)
        raise


def _plan(store, how, name, segments):
    """The settings file as the edit would leave it, validated; None without one (or
    with a refused one: the edit then goes to basal.json)."""
    try:
        obj, _ = store.settings_file.load()
    except BasaltError:
        return None
    if obj is None:
        return None
    try:
        profiles = edited(store.engine.profiles, how, name, segments)
    except (KeyError, TypeError, BasaltError):
        return None  # the engine refuses the edit itself, with its own message
    obj["basal"] = user_basal(profiles)
    store.settings_file.validator(obj)
    return obj


def save_basal(store, profiles=None):
    if profiles is None:
        profiles = store.engine.profiles
    obj = {"active": profiles.active, "profiles": {}}
    for name in profiles.profiles:
        obj["profiles"][name] = [list(seg) for seg in profiles.profiles[name].segments()]
    store.basal_file.save(obj)


def check_basal_file(obj):
    """{"active": name, "profiles": {name: [[start minute, mU/h], ...]}}, each profile
    checked by BasalProfiles.put, the one basal-profile rule."""
    exact_keys(BASAL_FILE, obj, ("active", "profiles"))
    profiles = BasalProfiles()
    if not isinstance(obj["profiles"], dict):
        raise ConfigError(BASAL_FILE + ".profiles", obj["profiles"], "a table of profiles")
    for name in sorted(obj["profiles"]):
        try:
            profiles.put(name, obj["profiles"][name])
        except BasaltError as error:
            raise ConfigError(BASAL_FILE + ".profiles." + str(name), name, str(error))
    if obj["active"] is not None:
        profiles.get(obj["active"])
        profiles.active = obj["active"]
    return profiles


def edited(current, how, name, segments):
    """The profiles as an edit would leave them (the engine's stay as they are)."""
    scratch = BasalProfiles()
    for key in sorted(current.profiles):
        scratch.put(key, current.profiles[key].segments())
    scratch.active = current.active
    if how == "set_profile":
        scratch.put(name, segments)
    elif how == "activate_profile":
        scratch.get(name)
        scratch.active = name
    elif how == "rename_profile":
        scratch.rename(name, segments)
    else:
        scratch.delete(name)
    return scratch


def user_basal(profiles):
    """Profiles in the settings file's user units: {"active", "profiles": {name:
    [["HH:MM", U/h], ...]}}."""
    out = {}
    for name in profiles.profiles:
        out[name] = [[hhmm(start), rate // 1000 if rate % 1000 == 0 else rate / 1000]
                     for start, rate in profiles.profiles[name].segments()]
    return {"active": profiles.active, "profiles": out}
