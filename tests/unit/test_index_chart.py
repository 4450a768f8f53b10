"""The index chart: a valid 600x200 PNG, the same bytes for the same input, the parts drawn."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image

from tensiond.index.chart import BAND, LATEST, render_chart

START = datetime(2026, 3, 1, tzinfo=UTC)
TIMES = [START + timedelta(hours=hour) for hour in range(14 * 24 + 1)]
VALUES = [1.0 + 0.3 * ((hour * 7) % 5) / 5 for hour in range(len(TIMES) - 1)] + [3.0]


def chart(**changes: object) -> bytes:
    arguments: dict[str, object] = {
        "title": "CN-TW tension index, 14 days", "median": 2.0, "spread": 1.0,
        "spike_level": 4.0, "note": "now 3.00  z +1.0",
    }  # fmt: skip
    arguments.update(changes)
    return render_chart(TIMES, VALUES, **arguments)  # type: ignore[arg-type]


def test_a_valid_png_of_the_expected_size() -> None:
    data = chart()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(data))
    image.verify()
    assert (image.format, image.size) == ("PNG", (600, 200))


def test_the_same_input_gives_the_same_bytes() -> None:
    assert chart() == chart()
    assert chart() != chart(median=1.0)


def test_the_baseline_band_is_shaded_and_the_latest_point_marked() -> None:
    image = Image.open(io.BytesIO(chart())).convert("RGB")
    ceiling = 4.0 * 1.1  # the spike level is the highest thing drawn

    def y_of(value: float) -> int:
        return round(178 - 152 * value / ceiling)

    assert image.getpixel((300, y_of(2.6))) == BAND
    assert image.getpixel((300, y_of(3.5))) == (255, 255, 255)
    red, green, blue = image.getpixel((584, y_of(3.0)))  # type: ignore[misc]
    assert (red, green, blue) == pytest.approx(LATEST, abs=40)


def test_one_point_is_enough_and_mismatched_input_is_refused() -> None:
    assert render_chart(TIMES[:1], [0.0], title="t", median=0.0, spread=0.0).startswith(b"\x89PNG")
    with pytest.raises(ValueError):
        render_chart(TIMES, VALUES[:-1], title="t", median=0.0, spread=0.0)
    with pytest.raises(ValueError):
        render_chart([], [], title="t", median=0.0, spread=0.0)
