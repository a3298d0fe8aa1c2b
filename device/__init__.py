"""hipcam: treadmill-side camera firmware measuring hip extension live."""

__version__ = "0.1.0"
