"""`tensiond index`: the table and the PNG chart of a dyad or country, from a real database."""

from __future__ import annotations

import io
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image

from tensiond.cli import main
from tensiond.config.load import load_settings
from tensiond.config.schema import IndexSettings
from tensiond.index import IndexKey, update_index
from tensiond.storage.engine import database_url, make_engine, migrate
from tensiond.storage.index_store import IndexStore
from tests.index_history import noise_poll, polls, spike_poll

AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CRISIS = AT - timedelta(hours=6)
REGIONS = {"CN": "east_asia", "TW": "east_asia"}.get


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A config whose SQLite database holds 20 days of CN-TW news and a crisis 6 hours ago."""
    tmp_path = tmp_path_factory.mktemp("index-cli")
    path = tmp_path / "tensiond.yaml"
    path.write_text(f"state_dir: {tmp_path / 'state'}\nhttp:\n  listen: ''\n")
    settings = load_settings(path)
    engine = make_engine(database_url("", tmp_path / "state"))
    migrate(engine)
    store, rng, interval = IndexStore(engine), random.Random(5), timedelta(hours=2)
    for at in polls(AT - timedelta(days=20), 20, interval):
        batch = noise_poll(rng, at, ("CN", "TW"), 4, interval)
        if at == CRISIS:
            batch += spike_poll(at, ("CN", "TW"))
        update_index(store, batch, settings.index, at, region_of=REGIONS)
    assert store.states([IndexKey("dyad", "CN-TW")])[IndexKey("dyad", "CN-TW")].spiking
    engine.dispose()
    return path


def run(config: Path, *arguments: str) -> int:
    return main(["index", *arguments, "--config", str(config), "--at", AT.isoformat()])


def test_png_chart_of_a_dyad(config: Path, tmp_path: Path) -> None:
    png = tmp_path / "cn-tw.png"
    assert run(config, "--dyad", "tw-cn", "--days", "14", "--png", str(png)) == 0
    image = Image.open(io.BytesIO(png.read_bytes()))
    image.verify()
    assert (image.format, image.size) == ("PNG", (600, 200))
    again = tmp_path / "again.png"
    assert run(config, "--dyad", "CN-TW", "--days", "14", "--png", str(again)) == 0
    assert again.read_bytes() == png.read_bytes()


def test_table_of_a_dyad(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(config, "--dyad", "CN-TW", "--days", "14") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "dyad CN-TW (China - Taiwan), last 14 days, at 2026-03-01 12:00 UTC"
    value = float(lines[1].split()[-1])
    median, spread = (float(word.rstrip(",")) for word in lines[2].split()[1:5:2])
    z = float(lines[3].split()[1])
    assert value > 5 and z == pytest.approx((value - median) / spread, abs=0.06)
    assert "spike at z >= 5 and index >= 1.5; easing at z <= 1" in lines[3]
    assert lines[4].startswith("  state      spiking since 2026-03-01 06:00 UTC (peak ")
    days = [line.split()[0] for line in lines[7:]]
    assert days[0] == "2026-02-15" and days[-1] == "2026-03-01" and len(days) == 15
    assert max(float(line.split()[1]) for line in lines[7:]) == float(lines[-1].split()[1])


def test_table_of_a_country_and_one_never_seen(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(config, "--country", "tw", "--days", "3") == 0
    assert capsys.readouterr().out.startswith("country TW (Taiwan), last 3 days")
    assert run(config, "--country", "NZ", "--days", "2") == 0
    out = capsys.readouterr().out
    assert "index now  0.00" in out and "no stories counted yet" in out


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("--dyad", "CNTW"), "--dyad: 'CNTW' is not a dyad"),
        (("--dyad", "CN-CN"), "pairs a code with itself"),
        (("--dyad", "CN-QQ"), "--dyad CN-QQ: unknown actor code(s) QQ"),
        (("--country", "XX"), "--country XX: unknown country code"),
        (("--country", "NATO"), "--country NATO: NATO is an organisation; use --dyad"),
    ],
    ids=["no-dash", "same-code", "unknown-code", "unknown-country", "organisation"],
)
def test_bad_input_names_the_problem_and_fails(
    config: Path, capsys: pytest.CaptureFixture[str], arguments: tuple[str, ...], message: str
) -> None:
    assert run(config, *arguments) == 1
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("days", ["0", "366", "two"])
def test_days_out_of_range_is_a_usage_error(config: Path, days: str) -> None:
    with pytest.raises(SystemExit) as exited:
        run(config, "--dyad", "CN-TW", "--days", days)
    assert exited.value.code == 2


def test_an_unwritable_png_path_is_an_error(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(config, "--dyad", "CN-TW", "--png", str(tmp_path / "no" / "x.png")) == 1
    assert "--png" in capsys.readouterr().err


def test_the_index_settings_reach_the_command(config: Path) -> None:
    assert load_settings(config).index == IndexSettings()
