"""The motor lease: the motor may run at most _LEASE_MU past the newest checkpoint, so
a reset never loses more than that of what was moved."""


try:
    from micropython import const
except ImportError:  # CPython (host tests)
    def const(value):
        return value

_LEASE_MU = const(50)  # 0.05 U


class Lease:
    def __init__(self, board):
        self.steps = max(1, board.usteps_for_mu(_LEASE_MU))

    def covers(self, ck, plunger_steps):
        """Whether the checkpoint ck already allows the plunger to reach plunger_steps."""
        return ck is not None and plunger_steps <= ck["plunger_hi"]
