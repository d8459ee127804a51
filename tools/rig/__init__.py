"""The bench rig in one command: the pump over USB, a balance over serial, the IEC
60601-2-24 tests run for you (hardware/bench-procedure.md).

    python -m tools.rig accuracy --pump /dev/ttyACM0 --balance /dev/ttyUSB0 --rate 1.0
    python -m tools.rig occlusion --pump /dev/ttyACM0 --balance /dev/ttyUSB0
    python -m tools.rig detect --balance /dev/ttyUSB0
    python -m tools.rig accuracy --simulate --simulate-error-pct 3 --minutes 150 --json

- balances.py  one small reader per balance protocol (MT-SICS, Sartorius SBI, Ohaus,
               A&D) and the auto-detect
- pump.py      the pump through its USB service (tools.pump_link): read while it
               delivers, commanded only through its command table
- bench.py     the clock, the CSV log of every reply, the live status line
- accuracy.py  prime until flow, evaporation blank, the 30 s logged run, the analysis
               (tools.trumpet) with the evaporation correction
- occlusion.py the occlusion test: time to the alarm, force at it, the released bolus
- report.py    JSON, PNG and the printed summary
- sim.py       --simulate: the virtual board on virtual time, the line's physics, a
               virtual MT-SICS balance on a pseudo-terminal
"""
