from ctct.ui.text import plain


def test_markdown_and_html_are_escaped():
    assert plain("**bold** <script>") == r"\*\*bold\*\* \<script\>"
    assert plain("[x](javascript:alert(1))") == r"\[x\]\(javascript\:alert\(1\)\)"
    assert plain("Apparel Sports Wear") == "Apparel Sports Wear"


def test_grid_edits_are_found_field_by_field():
    import pandas as pd

    from ctct.ui.grid import edited_fields

    shown = pd.DataFrame(
        {
            "contact_id": [1, 2],
            "first_name": ["Ann", "Bo"],
            "last_name": [None, "Berg"],
            "job_title": ["Owner", None],
            "email": ["ann@acme.com", "bo@acme.com"],
        }
    )
    rows = shown.copy()
    rows.loc[1, "job_title"] = "Buyer"
    rows.loc[0, "last_name"] = None  # unchanged: still empty
    assert edited_fields(rows, shown) == {2: {"job_title": "Buyer"}}
    assert edited_fields(shown, shown) == {}
