"""The live service: capture thread -> freshest-frame slot -> pose -> gait -> the live snapshot
(``state``, the one thing the web reads) and the store; page settings (``settings``); metrics,
systemd notify/watchdog and the camera-view encoder.

May import pose, gait, capture, vision, records, config, auth and below; never web_ui (only the
composition root in hipcam.commands.serve wires the two together).
"""
