"""Basal profile edits that survive a reset: the command table's "profiles" part once
the pump keeps files. With a settings file, an edit is a settings change: the whole
file, edited, must pass the settings schema before anything changes, and is saved as a
settings change. Without one, the profiles go to basal.json, checked by the same schema
for basal profiles (basalt.core.basal)."""

from basalt import call_and_forget

BASAL_FILE = "basal.json"


def _edits(name, *args):
    return call_and_forget("basalt.storage.profile_edits", name, *args)


def check_basal_file(obj):
    """basal.json: {"active": name, "profiles": {name: [[start minute, mU/h], ...]}}
    (basalt.storage.profile_edits.check_basal_file)."""
    return _edits("check_basal_file", obj)


class ProfileStore:
    def __init__(self, engine, settings_file, basal_file, save_settings, on_fault=None):
        self.engine = engine
        self.settings_file = settings_file
        self.basal_file = basal_file
        self.save_settings = save_settings  # save_settings(now_ms, obj)
        self.on_fault = on_fault  # on_fault(StorageFault, now_ms): the alarm

    def set_profile(self, now_ms, name, segments):
        return _edits("edit", self, now_ms, "set_profile", name, segments)

    def activate_profile(self, now_ms, name):
        return _edits("edit", self, now_ms, "activate_profile", name)

    def delete_profile(self, now_ms, name):
        return _edits("edit", self, now_ms, "delete_profile", name)

    def rename_profile(self, now_ms, name, new_name):
        return _edits("edit", self, now_ms, "rename_profile", name, new_name)
