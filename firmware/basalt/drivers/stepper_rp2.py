"""RP2040: STEP pulses from a PIO state machine. MicroPython only.

The state machine takes a move as two words from its TX FIFO, the step count N and a
half-period delay D, and emits exactly N pulses on the STEP pin (a side-set pin) with
50 % duty. The rising edge of every pulse and the decrement of the step counter X are the
same instruction (`jmp(x_dec, ...)` with side-set), so "N - X" is the exact number of
rising edges issued at every instant. After each edge it pushes X (steps still to issue)
without blocking, as progress; after the last period it pushes _DONE. An abort stops the
state machine and reads X out with two forced instructions.

API used (MicroPython 1.29 docs, docs/library/rp2.rst and rp2.StateMachine.rst, and
ports/rp2/modules/rp2.py): rp2.asm_pio(sideset_init=, in_shiftdir=) runs the decorated
function twice with the instruction names injected as globals (so the program gets its
STEP levels as default arguments, not from a closure); rp2.StateMachine(id, program,
freq=, sideset_base=); put/get/rx_fifo/tx_fifo/active/restart; exec() takes a string or,
in 1.29 (ports/rp2/rp2_pio.c), an already encoded int from rp2.asm_pio_encode(instr,
sideset_count), which we prepare once so an abort allocates nothing to assemble.
"""

from basalt.core.errors import MotorFault
from basalt.drivers.stepdir import StepDirMotor, hw_module

try:
    from micropython import const
except ImportError:  # CPython (host tests)

    def const(value):
        return value


# 1 MHz: one state-machine cycle per microsecond. The divider is 125 at the RP2040's
# default 125 MHz (an integer: no fractional-divider jitter); 2**32 cycles of delay is
# far beyond the longest period the base class accepts.
_SM_HZ = const(1_000_000)
# Cycles of one step period besides the two delay loops (see _program): period = 2 D + 10.
_LOOP_CYCLES = const(10)
# Pushed after the last period. 0x3FFFFFFF is above any count and still a small int.
_DONE = const(0x3FFFFFFF)
# How long move() waits for the state machine to take both words (it needs 3 cycles).
_TAKE_TRIES = const(100)


def _program(on, off):
    """The PIO program for a STEP pin whose pulse level is `on` (idle level `off`).

    Cycle count (1 cycle = 1 us): high = jmp 1 + mov 1 + push 1 + mov 1 + (D + 1) = D + 5;
    low = mov 1 + delay 2 + (D + 1) + jmp 1 = D + 5; the wrap is free. Period 2 D + 10.
    `jmp(x_dec, L)` jumps if X was non-zero and decrements X either way: X >= 1 at every
    step (N >= 1 and the loop exits at X == 0), so it always "jumps" to the next line.
    """

    def step_train(on=on, off=off):
        label("idle")  # noqa: F821
        pull().side(off)  # noqa: F821
        mov(x, osr).side(off)  # noqa: F821
        pull().side(off)  # noqa: F821
        wrap_target()  # noqa: F821
        # Rising edge and X -= 1 in the same cycle.
        jmp(x_dec, "high").side(on)  # noqa: F821
        label("high")  # noqa: F821
        mov(isr, x).side(on)  # noqa: F821
        push(noblock).side(on)  # noqa: F821
        mov(y, osr).side(on)  # noqa: F821
        label("hold")  # noqa: F821
        jmp(y_dec, "hold").side(on)  # noqa: F821
        # Falling edge; the 2-cycle delay makes low as long as high.
        mov(y, osr).side(off)[2]  # noqa: F821
        label("gap")  # noqa: F821
        jmp(y_dec, "gap").side(off)  # noqa: F821
        jmp(not_x, "done").side(off)  # noqa: F821
        wrap()  # noqa: F821
        label("done")  # noqa: F821
        # ISR = 0xFFFFFFFF >> 2 (in_shiftdir is right): the _DONE marker.
        mov(isr, invert(null)).side(off)  # noqa: F821
        in_(null, 2).side(off)  # noqa: F821
        push().side(off)  # noqa: F821
        jmp("idle").side(off)  # noqa: F821

    return step_train


class PioStepper(StepDirMotor):
    """Motor port on a STEP/DIR/EN driver with STEP timed by one PIO state machine."""

    def __init__(self, config, sm_id=0, machine=None, rp2=None, time=None):
        StepDirMotor.__init__(self, config, machine, time)  # EN inactive before all else
        rp2 = hw_module(rp2, "rp2")
        on, off = self._on, self._off
        pio = rp2.PIO
        program = rp2.asm_pio(
            sideset_init=pio.OUT_HIGH if off else pio.OUT_LOW,
            in_shiftdir=pio.SHIFT_RIGHT,
        )(_program(on, off))
        self._sm = rp2.StateMachine(sm_id, program, freq=_SM_HZ, sideset_base=self._step)
        # Forced instructions for an abort, side-setting STEP to idle (1 side-set bit).
        self._read_x = rp2.asm_pio_encode("mov(isr, x).side(%d)" % off, 1)
        self._push = rp2.asm_pio_encode("push().side(%d)" % off, 1)
        self._sm.active(1)  # waits at the first pull(); STEP idle

    def _start(self, steps, period_us):
        sm = self._sm
        delay = (period_us * (_SM_HZ // 1_000_000) - _LOOP_CYCLES + 1) >> 1  # rounded up
        sm.put(steps)
        sm.put(delay)
        # Once the TX FIFO is empty both words are in X and OSR: "N - X" is valid from
        # here on, even for a stop() right after move().
        for _ in range(_TAKE_TRIES):
            if not sm.tx_fifo():
                return
            self._time.sleep_us(1)
        raise MotorFault("the PIO state machine did not take the move")

    def _service(self):
        sm = self._sm
        while sm.rx_fifo():
            word = sm.get()
            if word == _DONE:
                self._done = self._steps
                return False
            self._done = self._steps - word  # progress: X after a rising edge
        return True

    def _abort(self):
        sm = self._sm
        sm.active(0)
        if self._service():  # no _DONE yet: read the step counter itself
            sm.exec(self._read_x)  # also side-sets STEP to idle, ending a pulse
            sm.exec(self._push)  # RX FIFO was just drained: this push cannot stall
            self._done = self._steps - sm.get()
        sm.restart()  # back to the first pull(); both FIFOs are empty
        sm.active(1)
