# The VM's file system is Emscripten's, whose OSError numbers are WASI's (ENOENT is 44).
# A board's VFS raises MicroPython's (ENOENT 2), which is what mpremote and the firmware
# look for: translate_errnos() translates at the boundary (os functions and open()).
# Shared by tools/vboard (_vboard_boot) and tools/devicevm (fakes_vm). MicroPython only.

_ERRNO = {63: 1, 44: 2, 29: 5, 8: 9, 2: 13, 10: 16, 20: 17, 43: 19, 54: 20, 31: 21, 28: 22,
          51: 28, 55: 39}


def _translated(fn):
    def call(*args, **kwargs):
        if args and args[0] == "":  # a board's VFS takes "" as the current directory
            args = (".",) + args[1:]
        try:
            return fn(*args, **kwargs)
        except OSError as exc:
            code = exc.args[0] if exc.args else None
            if code in _ERRNO:
                raise OSError(_ERRNO[code])
            raise

    return call


def translate_errnos():
    import builtins
    import os

    for name in ("chdir", "getcwd", "ilistdir", "listdir", "mkdir", "remove", "rename",
                 "rmdir", "stat", "statvfs", "unlink"):
        setattr(os, name, _translated(getattr(os, name)))
    builtins.open = _translated(builtins.open)
