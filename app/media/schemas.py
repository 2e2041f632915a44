"""Media representations."""

from __future__ import annotations

from pydantic import BaseModel


class VariantOut(BaseModel):
    url: str
    width: int
    height: int


class ImageOut(BaseModel):
    id: int
    status: str
    url: str
    width: int
    height: int
    dominant_color: str
    variants: dict[str, VariantOut]
