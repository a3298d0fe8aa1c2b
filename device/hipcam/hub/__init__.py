"""The hub (`hipcam hub`): one page for every treadmill of a gym, and an archive of their sessions.

It runs on a PC or a Pi at the gym desk, beside (or pointed at) the gym's MQTT broker:

* ``hipcam.hub.board``: what each device last said over MQTT (availability and state), kept in
  memory; ``hipcam.hub.subscriber`` feeds it from the broker and reconnects on its own.
* ``hipcam.hub.archive``: finished sessions in SQLite (default) or PostgreSQL, one row per
  (device, session); ``hipcam.hub.puller`` fills it from each device's read-only JSON export.
* ``hipcam.hub.app``: the Flask app (the devices page, the archive, /healthz, /metrics). Every
  route is read-only: nothing in the hub can act on a device.

``hipcam.commands.hub`` wires them together.
"""
