"""BlazePose on LiteRT: anchors, detector + weighted NMS, rotated ROI, landmark model, One-Euro
smoothing and subject tracking (``tracker.BlazePose``); ``runtime`` is the only module that touches
the TFLite interpreter.

Independent of gait and capture; may import vision, config, domain and errors.
"""
