"""CGM simulator board (MicroPython): a Bluetooth CGMS 0x181F sensor for the bench.

cgm_sensor.py is the sensor's logic (records, trace or model, RACP): pure, host-tested.
main.py is the board's BLE wiring on aioble. See the README section "CGM over Bluetooth".
"""
