# Runs a contract test's MicroPython code (staged as files/snippet.py by the host's
# tools.devicevm.run_with_fakes) with the device VM's fakes installed first.

import sys

sys.path.insert(0, "/lib/devicevm")
import fakes_vm  # noqa: E402

exec(open(fakes_vm.FILES + "snippet.py").read(), {"__name__": "__main__"})
