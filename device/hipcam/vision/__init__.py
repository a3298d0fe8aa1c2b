"""Image work on numpy arrays: measures from the person-segmentation mask (``mask_features``) and
the camera roll from the image with the one rule for the ``[level]`` config (``roll``).

Below pose, gait and capture; may import hipcam.config, hipcam.domain and hipcam.errors.
"""
