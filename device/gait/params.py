"""Thresholds and settings of the gait analysis (the `[gait]` config section)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class GaitParams(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    direction: Literal["auto", "left", "right"] = Field(
        "auto", description="running direction in the image; auto detects which way the runner faces"
    )
    min_visibility: float = Field(0.5, ge=0.0, le=1.0, description="landmark visibility needed to trust a joint")
    rolling_strides: int = Field(10, ge=1, le=100, description="strides in the rolling 'current' summary")
