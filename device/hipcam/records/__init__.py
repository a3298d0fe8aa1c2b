"""What hipcam keeps: the stride record shape (``stride``), sessions and strides in SQLite
(``store`` over ``schema``, ``snapshot_files`` and ``export``), and the landmarks file (.npz).

May import only hipcam.domain, hipcam.errors and hipcam.atomic.
"""
