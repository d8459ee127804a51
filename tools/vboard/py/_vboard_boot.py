# Resets of the virtual board (called by tools/vboard/vboard.mjs). MicroPython only.
#
# boot(kind, run_main): machine state fresh, boot.py, then main.py if run_main (as a
# board's pyexec does). asyncio.run(main) starts `main` as a task on the VM's event loop
# and returns, so the REPL stays live while the app runs; that task and every task the
# program creates are the "running program" that Ctrl-C interrupts and a reset ends.
# teardown(): the soft-reset part: the program stopped, timers off, every module and
# global the program made forgotten.

import asyncio
import sys

import vboard  # the bench outlives resets: imported before _keep is taken
import vm_errno

vm_errno.translate_errnos()  # the VM's errnos as a board's VFS raises them
_program = []  # the running program's tasks (asyncio.run's and those it created)
_keep = set(sys.modules) | {"_vboard_boot", "__main__"}
_kept_globals = ("__name__", "__file__", "__builtins__")


def _run(coro):
    _create_task(_guard(coro))


async def _guard(coro):
    try:
        await coro
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # what the board would print before its REPL prompt
        sys.print_exception(exc)


def _run_file(name):
    try:
        with open(name) as f:
            source = f.read()
    except OSError:
        return
    main = __import__("__main__").__dict__
    try:
        exec(compile(source, name, "exec"), main)
    except Exception as exc:
        sys.print_exception(exc)


async def _until_reset(coro):
    try:
        return await coro
    except SystemExit:  # machine.reset() in a task: the reset is under way (on a board
        pass  # it never returns); the VM would end on an uncaught SystemExit


def _create_task(coro):
    task = _create_task_of_vm(_until_reset(coro))
    if len(_program) > 32:
        _program[:] = [t for t in _program if not t.done()]
    _program.append(task)  # every task of the program stops with it
    return task


_create_task_of_vm = asyncio.create_task


def boot(kind, run_main):
    vboard.power_on(kind)
    asyncio.run = _run
    asyncio.create_task = _create_task
    _run_file("boot.py")
    if run_main:
        _run_file("main.py")


def interrupt():
    """Ctrl-C: the running program stops with KeyboardInterrupt. On a board it comes out
    of asyncio.run into main.py; here asyncio.run returned when the app started, so
    main.py's handler of it, `on_interrupt` if main.py defines one, is called instead."""
    if not _stop_program():
        return
    handler = __import__("__main__").__dict__.get("on_interrupt")
    if handler is None:
        print("Traceback (most recent call last):\n  File \"main.py\"\nKeyboardInterrupt: ")
        return
    try:
        handler()
    except Exception as exc:
        sys.print_exception(exc)


def teardown():
    _stop_program()
    vboard.power_off()
    main = __import__("__main__").__dict__
    for name in list(main):
        if name not in _kept_globals:
            del main[name]
    for name in list(sys.modules):
        if name not in _keep:
            del sys.modules[name]
    import gc

    gc.collect()


def _stop_program():
    vboard.console.close()  # nobody reads the USB console any more
    stopped = False
    while _program:
        task = _program.pop()
        if not task.done():
            task.cancel()
            stopped = True
    return stopped
