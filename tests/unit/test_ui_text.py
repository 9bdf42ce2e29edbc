from ctct.ui.text import plain


def test_markdown_and_html_are_escaped():
    assert plain("**bold** <script>") == r"\*\*bold\*\* \<script\>"
    assert plain("[x](javascript:alert(1))") == r"\[x\]\(javascript\:alert\(1\)\)"
    assert plain("Apparel Sports Wear") == "Apparel Sports Wear"
