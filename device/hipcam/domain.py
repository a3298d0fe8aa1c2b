"""BlazePose's 33-landmark topology: indices, names and the edges drawn on screen."""

NUM_LANDMARKS = 33
# Values per image landmark: x, y (normalized to width/height), z, visibility, presence.
VISIBILITY, PRESENCE = 3, 4

NAMES: tuple[str, ...] = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
    "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_pinky", "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    "left_heel", "right_heel", "left_foot_index", "right_foot_index",
)  # fmt: skip

LEFT_SHOULDER, RIGHT_SHOULDER = 11, 12
LEFT_HIP, RIGHT_HIP = 23, 24
LEFT_KNEE, RIGHT_KNEE = 25, 26
LEFT_ANKLE, RIGHT_ANKLE = 27, 28
LEFT_HEEL, RIGHT_HEEL = 29, 30
LEFT_FOOT_INDEX, RIGHT_FOOT_INDEX = 31, 32

# Per leg, the joints the gait analysis reads.
LEG_JOINTS: dict[str, dict[str, int]] = {
    "left": {"shoulder": LEFT_SHOULDER, "hip": LEFT_HIP, "knee": LEFT_KNEE, "ankle": LEFT_ANKLE,
             "heel": LEFT_HEEL, "foot_index": LEFT_FOOT_INDEX},
    "right": {"shoulder": RIGHT_SHOULDER, "hip": RIGHT_HIP, "knee": RIGHT_KNEE, "ankle": RIGHT_ANKLE,
              "heel": RIGHT_HEEL, "foot_index": RIGHT_FOOT_INDEX},
}  # fmt: skip

# The landmarks whose agreement with the reference is checked (shoulders to foot tips).
BODY_LANDMARKS: tuple[int, ...] = (11, 12, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32)

# Skeleton edges drawn over the camera view (torso and limbs; the face is left out).
EDGES: tuple[tuple[int, int], ...] = (
    (11, 12), (11, 23), (12, 24), (23, 24),
    (11, 13), (13, 15), (12, 14), (14, 16),
    (23, 25), (25, 27), (27, 29), (29, 31), (27, 31),
    (24, 26), (26, 28), (28, 30), (30, 32), (28, 32),
)  # fmt: skip
