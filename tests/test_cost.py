"""Monthly cost projection, checked against figures computed by hand."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from agentic_flow.core.models.catalog import ModelCatalog, ModelInfo
from agentic_flow.core.models.cost import (
    parse_mix,
    parse_share,
    parse_tokens,
    project,
    project_from_history,
    read_history,
)
from agentic_flow.core.store.database import Store


def model(model_id, price_in, price_out, when=date(2025, 9, 1)):
    return ModelInfo(
        id=model_id, name=model_id, provider=model_id.split(":")[0], price_in=price_in, price_out=price_out,
        context=100_000, max_output=None, tools=True, tier="large", price_date=when, price_source="test",
    )


CATALOG = ModelCatalog([
    model("x:sonnet", 3.0, 15.0, date(2025, 10, 1)),
    model("x:deepseek", 0.30, 0.85),
    model("x:free", 0.0, 0.0),
    model("x:unknown", None, None),
])


@pytest.mark.parametrize(
    ("text", "tokens"),
    [("10M", 10_000_000), ("10m", 10_000_000), ("500k", 500_000), ("500K", 500_000), ("1.5B", 1_500_000_000),
     ("2,000,000", 2_000_000), ("1_000", 1_000), ("42", 42), (" 3 M ", 3_000_000), ("2.5k", 2_500),
     ("10M tokens", 10_000_000)],
)
def test_parse_tokens(text, tokens):
    assert parse_tokens(text) == tokens


@pytest.mark.parametrize("text", ["", "abc", "10X", "-5", "0", "0k", "1.5", "1,5M", "1.000.000", "1e6", "M", "10MM"])
def test_parse_tokens_rejects_bad_input_with_the_accepted_forms(text):
    with pytest.raises(ValueError) as info:
        parse_tokens(text)
    message = str(info.value)
    assert "10M" in message or "more than 0" in message or "whole number" in message


def test_parse_share_and_mix():
    assert parse_share("0.7") == pytest.approx(0.7) and parse_share("70%") == pytest.approx(0.7)
    for bad in ("1.2", "-0.1", "abc", "120%"):
        with pytest.raises(ValueError, match="--input-share"):
            parse_share(bad)
    assert parse_mix("x:sonnet=0.3, x:deepseek=70%", CATALOG) == pytest.approx({"x:sonnet": 0.3, "x:deepseek": 0.7})
    with pytest.raises(ValueError, match="add up to 0.9"):
        parse_mix("x:sonnet=0.3,x:deepseek=0.6", CATALOG)
    with pytest.raises(ValueError, match="did you mean x:sonnet"):
        parse_mix("x:sonet=1", CATALOG)
    with pytest.raises(ValueError, match="PROVIDER:MODEL=SHARE"):
        parse_mix("x:sonnet", CATALOG)
    with pytest.raises(ValueError, match="twice"):
        parse_mix("x:sonnet=0.5,x:sonnet=0.5", CATALOG)


def test_ten_million_tokens_per_model_and_mix():
    p = project(10_000_000, input_share=0.7, catalog=CATALOG, models=["x:sonnet", "x:deepseek"],
                mix={"x:sonnet": 0.3, "x:deepseek": 0.7})
    by_id = {line.model_id: line for line in p.lines}
    # 7M in x $3 + 3M out x $15 = $21 + $45
    assert by_id["x:sonnet"].monthly == pytest.approx(66.0)
    assert (by_id["x:sonnet"].input_tokens, by_id["x:sonnet"].output_tokens) == (7_000_000, 3_000_000)
    # 7M x $0.30 + 3M x $0.85 = $2.10 + $2.55
    assert by_id["x:deepseek"].monthly == pytest.approx(4.65)
    assert [line.model_id for line in p.lines] == ["x:deepseek", "x:sonnet"]  # cheapest first
    # 30% on sonnet: 2.1M x $3 + 0.9M x $15 = $19.80; 70% on deepseek: 4.9M x $0.30 + 2.1M x $0.85 = $3.255
    mix = {line.model_id: line.monthly for line in p.mix}
    assert mix == pytest.approx({"x:sonnet": 19.8, "x:deepseek": 3.255})
    assert p.mix_total == pytest.approx(23.055)
    assert p.price_dates() == ("2025-09-01", "2025-10-01")


def test_other_input_share_and_volume():
    p = project(parse_tokens("1.5B"), input_share=parse_share("80%"), catalog=CATALOG, models=["x:sonnet"])
    # 1.2B in x $3/M + 0.3B out x $15/M = $3,600 + $4,500
    assert p.lines[0].monthly == pytest.approx(8100.0)


def test_unknown_price_is_none_never_zero():
    p = project(1_000_000, catalog=CATALOG, models=["x:free", "x:unknown"], mix={"x:free": 0.5, "x:unknown": 0.5})
    by_id = {line.model_id: line.monthly for line in p.lines}
    assert by_id["x:free"] == 0.0 and by_id["x:unknown"] is None
    assert p.mix_total is None
    assert [line.model_id for line in p.lines] == ["x:free", "x:unknown"]  # unknown goes last
    assert any("x:unknown" in n for n in p.notes)


def test_default_models_are_every_priced_catalog_model():
    p = project(1_000_000, catalog=CATALOG)
    assert {line.model_id for line in p.lines} == {"x:sonnet", "x:deepseek", "x:free"}


def _usage(store: Store) -> None:
    store.record_turn(None, model="x:sonnet", input_tokens=600_000, output_tokens=200_000)
    store.record_turn(None, model="x:deepseek", input_tokens=100_000, output_tokens=100_000)


def test_from_history_uses_the_real_share_and_mix(tmp_path):
    with Store(tmp_path / "db") as store:
        _usage(store)
        history = read_history(store, 30)
        assert history.total == 1_000_000 and history.input_share == pytest.approx(0.7)
        assert history.mix == pytest.approx({"x:sonnet": 0.8, "x:deepseek": 0.2})
        p = project_from_history(store, days=30, catalog=CATALOG)
    assert p.tokens == 1_000_000 and p.input_share == pytest.approx(0.7)
    by_id = {line.model_id: line.monthly for line in p.lines}
    # whole volume on one model at the 70% share: 0.7M x $3 + 0.3M x $15 = $6.60; 0.7M x 0.30 + 0.3M x 0.85 = $0.465
    assert by_id == pytest.approx({"x:sonnet": 6.6, "x:deepseek": 0.465})
    # the mix keeps each model's own share: sonnet 600k in + 200k out = $1.80 + $3.00; deepseek $0.03 + $0.085
    assert {line.model_id: line.monthly for line in p.mix} == pytest.approx({"x:sonnet": 4.8, "x:deepseek": 0.115})
    assert p.mix_total == pytest.approx(4.915)


def test_from_history_scales_the_window_to_a_month_and_honours_overrides(tmp_path):
    with Store(tmp_path / "db") as store:
        _usage(store)
        scaled = project_from_history(store, days=10, catalog=CATALOG)
        assert scaled.tokens == 3_000_000 and scaled.mix_total == pytest.approx(3 * 4.915)
        explicit = project_from_history(store, tokens=10_000_000, catalog=CATALOG, input_share=0.5,
                                        mix={"x:deepseek": 1.0})
    assert explicit.tokens == 10_000_000 and explicit.input_share == 0.5
    # 5M x $0.30 + 5M x $0.85
    assert explicit.mix_total == pytest.approx(5.75)


def test_history_window_leaves_old_usage_out(tmp_path):
    with Store(tmp_path / "db") as store:
        _usage(store)
        store.record_turn(None, model="x:sonnet", input_tokens=5_000_000, output_tokens=0)
        old = (datetime.now(timezone.utc) - timedelta(days=60)).isoformat(timespec="microseconds")
        with store.transaction() as conn:
            conn.execute("UPDATE turns SET created_at = ? WHERE input_tokens = 5000000", (old,))
        assert read_history(store, 30).total == 1_000_000
        assert read_history(store, None).total == 6_000_000


def test_from_history_without_usage_is_a_clear_error(tmp_path):
    with Store(tmp_path / "db") as store, pytest.raises(ValueError, match="no stored usage in the last 30 days"):
        project_from_history(store, catalog=CATALOG)


@pytest.mark.parametrize(
    ("tokens", "shown"),
    [(None, "?"), (8192, "8K"), (128000, "128K"), (131072, "128K"), (200000, "200K"), (1_000_000, "1M"),
     (1_047_576, "1M"), (1_048_576, "1M"), (1_500_000, "1.5M"), (2_000_000, "2M"), (2_097_152, "2M")],
)
def test_context_sizes_read_as_vendors_say_them(tokens, shown):
    from agentic_flow.core.models.catalog import format_context

    assert format_context(tokens) == shown


def test_a_larger_context_never_reads_as_a_smaller_one():
    from agentic_flow.core.models.catalog import format_context

    def value(text: str) -> float:
        return float(text[:-1]) * (1_000_000 if text.endswith("M") else 1000)

    sizes = sorted([1_000_000, 1_047_576, 1_048_576, 1_500_000, 2_000_000, 2_097_152, 10_000_000])
    shown = [value(format_context(n)) for n in sizes]
    assert shown == sorted(shown)
