"""A small line chart of an index as PNG bytes, for Slack attachments and the CLI.

600x200 by default: the series as a line, the baseline band (median +- spread) shaded, the spike
level dashed, the latest point marked, the first and last day under the axis. Drawn at twice the
size and scaled down for smooth lines; the same input always gives the same bytes.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime
from functools import cache

from PIL import Image, ImageDraw, ImageFont

WIDTH, HEIGHT = 600, 200
SCALE = 2
BACKGROUND = (255, 255, 255)
AXIS = (148, 163, 184)
TEXT = (51, 65, 85)
BAND = (219, 234, 254)
MEDIAN = (147, 197, 253)
SPIKE = (239, 68, 68)
LINE = (30, 64, 175)
LATEST = (234, 88, 12)

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


@cache
def _font(size: int) -> Font:
    return ImageFont.load_default(size=size)


def _dashed(
    draw: ImageDraw.ImageDraw, left: float, right: float, y: float, colour: tuple[int, ...]
) -> None:
    dash = 6 * SCALE
    x = left
    while x < right:
        draw.line([(x, y), (min(x + dash, right), y)], fill=colour, width=SCALE)
        x += 2 * dash


def render_chart(
    times: Sequence[datetime],
    values: Sequence[float],
    *,
    title: str,
    median: float,
    spread: float,
    spike_level: float | None = None,
    note: str = "",
    size: tuple[int, int] = (WIDTH, HEIGHT),
) -> bytes:
    """Draw ``values`` over ``times`` (ascending, at least one) and return the PNG bytes."""
    if not values or len(times) != len(values):
        raise ValueError("a chart needs as many times as values, and at least one")
    width, height = size[0] * SCALE, size[1] * SCALE
    left, right, top, bottom = 44 * SCALE, width - 14 * SCALE, 26 * SCALE, height - 22 * SCALE
    ceiling = max([*values, median + spread, spike_level or 0.0, 1.0]) * 1.1
    start, span = times[0], max((times[-1] - times[0]).total_seconds(), 1.0)

    def x_of(moment: datetime) -> float:
        return left + (right - left) * (moment - start).total_seconds() / span

    def y_of(value: float) -> float:
        return bottom - (bottom - top) * min(max(value, 0.0), ceiling) / ceiling

    image = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(image)
    small, large = _font(10 * SCALE), _font(12 * SCALE)
    draw.rectangle([left, y_of(median + spread), right, y_of(median - spread)], fill=BAND)
    draw.line([(left, y_of(median)), (right, y_of(median))], fill=MEDIAN, width=SCALE)
    if spike_level is not None:
        _dashed(draw, left, right, y_of(spike_level), SPIKE)
    draw.line([(left, top), (left, bottom), (right, bottom)], fill=AXIS, width=SCALE)
    points = [(x_of(moment), y_of(value)) for moment, value in zip(times, values, strict=True)]
    if len(points) > 1:
        draw.line(points, fill=LINE, width=2 * SCALE, joint="curve")
    x, y = points[-1]
    radius = 4 * SCALE
    draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=LATEST)
    draw.text((left, 6 * SCALE), title, fill=TEXT, font=large)
    if note:
        draw.text((right, 6 * SCALE), note, fill=LATEST, font=large, anchor="ra")
    draw.text((left, bottom + 5 * SCALE), f"{times[0]:%b %d}", fill=TEXT, font=small)
    draw.text((right, bottom + 5 * SCALE), f"{times[-1]:%b %d}", fill=TEXT, font=small, anchor="ra")
    draw.text((left - 5 * SCALE, bottom), "0", fill=TEXT, font=small, anchor="rb")
    draw.text((left - 5 * SCALE, top), f"{ceiling:.1f}", fill=TEXT, font=small, anchor="rt")
    image = image.resize(size, Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False, compress_level=6)
    return buffer.getvalue()
