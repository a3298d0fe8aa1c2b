"""The ``hipcam`` command line (``cli``) and what each command does: serve (the service's composition
root), analyze, extract, bench, bench-service, soak, compare-landmarks, config check, fetch, pin-hash.

The top layer: it may import every other part of hipcam and web_ui; nothing imports it.
"""
