"""Wire names for MCP tools: provider-safe, stable, and mapped back exactly."""

from __future__ import annotations

import itertools
import random

from agentic_flow.core.mcp.names import WIRE_NAME_RE, WireNames, parse_user_name, user_name

WEIRD = [
    ("fs", "read_file"),
    ("my.server", "get.time"),
    ("my_server", "get_time"),
    ("my server", "get time"),
    ("my-server", "get-time"),
    ("zeitdienst", "größe"),
    ("服务", "工具"),
    ("emoji", "🚀launch"),
    ("x__y", "z"),
    ("x", "y__z"),
    ("long", "t" * 80),
    ("long", "t" * 80 + "a"),
    ("long", "t" * 80 + "b"),
    ("s" * 70, "tool"),
    ("", "empty-server"),
    ("srv", ""),
]


def test_plain_names_are_readable() -> None:
    names = WireNames()
    assert names.wire("github", "create_issue") == "mcp__github__create_issue"
    assert names.wire("time", "get-current.time") == "mcp__time__get-current_time"


def test_every_weird_name_is_valid_and_maps_back_exactly() -> None:
    names = WireNames()
    names.assign(WEIRD)
    wires = [names.wire(server, tool) for server, tool in WEIRD]
    assert len(set(wires)) == len(WEIRD), "two pairs share a wire name"
    for (server, tool), wire in zip(WEIRD, wires):
        assert WIRE_NAME_RE.match(wire), wire
        assert names.resolve(wire) == (server, tool)
    assert names.resolve("mcp__nope__nothing") is None


def test_collisions_resolve_the_same_way_in_any_order() -> None:
    first = WireNames()
    first.assign(WEIRD)
    expected = {pair: first.wire(*pair) for pair in WEIRD}
    rng = random.Random(7)
    for _ in range(5):
        shuffled = WEIRD[:]
        rng.shuffle(shuffled)
        again = WireNames()
        again.assign(shuffled)
        assert {pair: again.wire(*pair) for pair in WEIRD} == expected
    # The first pair in sorted order keeps the plain name; the other gets a hash suffix.
    assert expected[("my server", "get time")] == "mcp__my_server__get_time"
    assert expected[("my-server", "get-time")] == "mcp__my-server__get-time"
    assert expected[("my.server", "get.time")] != "mcp__my_server__get_time"
    assert expected[("x", "y__z")] == "mcp__x__y__z"
    assert expected[("x__y", "z")].startswith("mcp__x__y__z_")


def test_long_names_are_cut_with_a_hash_and_stay_distinct() -> None:
    names = WireNames()
    a, b = names.wire("long", "t" * 80 + "a"), names.wire("long", "t" * 80 + "b")
    assert len(a) == len(b) == 64
    assert a != b
    assert a.startswith("mcp__long__ttt")


def test_assignments_are_stable_when_new_pairs_arrive() -> None:
    names = WireNames()
    names.assign([("a.b", "t")])
    before = names.wire("a.b", "t")
    assert before == "mcp__a_b__t"
    names.assign([("a_b", "t")])  # sorts first, but must not steal the existing name
    assert names.wire("a.b", "t") == before
    assert names.wire("a_b", "t") != before
    assert names.resolve(names.wire("a_b", "t")) == ("a_b", "t")


def test_many_colliding_pairs_never_share_a_name() -> None:
    servers = ["s.1", "s_1", "s 1", "s/1"]
    tools = ["t.x", "t_x", "t x", "t?x"]
    pairs = list(itertools.product(servers, tools))
    names = WireNames()
    names.assign(pairs)
    wires = {names.wire(*pair) for pair in pairs}
    assert len(wires) == len(pairs)
    assert all(names.resolve(names.wire(*pair)) == pair for pair in pairs)


def test_user_names_round_trip() -> None:
    assert user_name("time", "get_current_time") == "mcp:time/get_current_time"
    assert parse_user_name("mcp:time/get_current_time") == ("time", "get_current_time")
    assert parse_user_name("mcp:fs/dir/with/slashes") == ("fs", "dir/with/slashes")
    assert parse_user_name("bash") is None
    assert parse_user_name("mcp:noslash") is None
