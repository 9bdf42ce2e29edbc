from ctct.ui.text import plain


def test_markdown_and_html_are_escaped():
    assert plain("**bold** <script>") == r"\*\*bold\*\* \<script\>"
    assert plain("[x](javascript:alert(1))") == r"\[x\]\(javascript\:alert\(1\)\)"
    assert plain("Apparel Sports Wear") == "Apparel Sports Wear"


def test_grid_events_are_handed_out_once_each_even_when_runs_fold_them():
    from ctct.ui.grid import MEMBER, GridEvent, new_events

    seen: dict[str, int] = {}
    first = {"mount": "a", "seq": 1, "events": [{"seq": 1, "contact_id": 7, "field": MEMBER, "value": True}]}
    assert new_events(first, seen) == [GridEvent(7, MEMBER, True)]
    assert new_events(first, seen) == []  # the same answer on the next run: nothing new
    # Two clicks folded into one run: both come, in order.
    folded = {
        "mount": "a",
        "seq": 3,
        "events": [
            *first["events"],
            {"seq": 2, "contact_id": 8, "field": MEMBER, "value": True},
            {"seq": 3, "contact_id": 7, "field": "job_title", "value": "Buyer"},
        ],
    }
    assert new_events(folded, seen) == [GridEvent(8, MEMBER, True), GridEvent(7, "job_title", "Buyer")]
    # A new grid (reloaded page) numbers from 1 again under a new mount.
    fresh = {"mount": "b", "seq": 1, "events": [{"seq": 1, "contact_id": 9, "field": MEMBER, "value": False}]}
    assert new_events(fresh, seen) == [GridEvent(9, MEMBER, False)]
    # Nothing the page does not handle gets through: other columns, no answer yet.
    odd = {"mount": "b", "seq": 2, "events": [{"seq": 2, "contact_id": 9, "field": "tags", "value": "x"}]}
    assert new_events(odd, seen) == []
    assert new_events(None, seen) == []


def test_addresses_never_become_links():
    assert plain("Added ann@acme.com to 'News'") == r"Added `ann@acme.com` to 'News'"
    assert plain('=HYPERLINK("http://evil.example","Click")') == r'=HYPERLINK\("`http://evil.example`","Click"\)'
    assert plain("see www.evil.example now") == "see `www.evil.example` now"
    assert plain("a`b@c.de") == "``a`b@c.de``"
    assert plain("no address: 5 of 10") == r"no address\: 5 of 10"
