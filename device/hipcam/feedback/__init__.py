"""Live feedback for gait retraining: one target, a cue per stride, blocks faded over a session
(``plan``: what the clinician chose; ``run``: judging strides and keeping the blocks' results)."""

from hipcam.feedback.plan import Block, Plan, Schedule, Target, expand_blocks
from hipcam.feedback.run import FeedbackRun, judge

__all__ = ["Block", "FeedbackRun", "Plan", "Schedule", "Target", "expand_blocks", "judge"]
