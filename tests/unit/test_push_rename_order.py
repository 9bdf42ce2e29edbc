"""CTCT takes renames one at a time and never two lists of one name: the push orders them, and a
ring of names goes through a free name first (ctct/sync/push.py: rename_order)."""

from ctct.sync.push import rename_order


def final_names(start: dict[str, str], ordered: list[tuple[str, str, str]]) -> dict[str, str]:
    """Applies the renames in order, checking that no step gives two lists one name."""
    names = dict(start)
    for list_id, old, new in ordered:
        assert names[list_id] == old
        assert new.casefold() not in {n.casefold() for i, n in names.items() if i != list_id}, (list_id, new, names)
        names[list_id] = new
    return names


def test_a_chain_renames_the_list_holding_a_name_first():
    start = {"a": "News", "b": "Events"}
    ordered = rename_order([("a", "News", "Zed"), ("b", "Events", "News")])
    assert final_names(start, ordered) == {"a": "Zed", "b": "News"}
    assert [list_id for list_id, _old, _new in ordered] == ["a", "b"]


def test_a_swap_and_a_ring_go_through_a_free_name():
    start = {"a": "A", "b": "B", "c": "C", "d": "D", "e": "E"}
    wanted = {"a": "B", "b": "A", "c": "D", "d": "E", "e": "C"}
    ordered = rename_order([(i, start[i], wanted[i]) for i in start])
    assert final_names(start, ordered) == wanted
    assert len(ordered) == 7  # one step aside per ring


def test_a_rename_of_case_only_and_independent_renames_keep_their_order():
    ordered = rename_order([("a", "news", "News"), ("b", "X", "Y")])
    assert ordered == [("a", "news", "News"), ("b", "X", "Y")]
