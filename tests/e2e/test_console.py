"""The console as a user meets it, in a real browser."""

import re

from tests.e2e.conftest import SCREENSHOTS, wait_for_app


def test_create_a_list_and_browse_contacts(page, activated_console_url):
    console_url = activated_console_url
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(console_url)
    wait_for_app(page)
    assert page.get_by_role("heading", name="Email Lists").is_visible()
    page.get_by_placeholder("Email list title").fill("Apparel Sports Wear")
    page.get_by_role("button", name="Add").click()
    wait_for_app(page)
    page.get_by_text("Manage email list").wait_for()
    grid = page.frame_locator("iframe[title='st_aggrid.AgGrid.agGrid']").first
    grid.get_by_text("Not selectable because").wait_for()
    # Tick the first row: saved at once, with a toast; the grid has no select-all checkbox of its own.
    assert grid.locator(".ag-header input[type=checkbox]").count() == 0
    grid.locator(".ag-row[row-index='0'] input[type=checkbox]").first.click()
    page.get_by_text(re.compile(r"^Added \S+@\S+ to 'Apparel Sports Wear'$")).wait_for()
    wait_for_app(page)
    # Edit a contact's job title in its cell, then try an invalid email: refused, old value kept.
    grid = page.frame_locator("iframe").first
    row = grid.locator(".ag-row", has_text="xss@example.org").last
    row.locator("[col-id='job_title']").dblclick()
    grid.locator(".ag-cell-inline-editing input").fill("Head of Security")
    grid.locator(".ag-cell-inline-editing input").press("Enter")
    page.get_by_text("Saved the job title of xss@example.org").wait_for()
    wait_for_app(page)
    grid = page.frame_locator("iframe").first
    row = grid.locator(".ag-row", has_text="xss@example.org").last
    row.locator("[col-id='email']").dblclick()
    grid.locator(".ag-cell-inline-editing input").fill("not-an-email")
    grid.locator(".ag-cell-inline-editing input").press("Enter")
    page.get_by_text("the old value is kept").wait_for()
    wait_for_app(page)
    page.frame_locator("iframe").first.get_by_text("xss@example.org").first.wait_for()

    # Filter by a marketing tag, then "Select all": the eligible rows of the filter go on the list.
    page.locator(".st-key-email_lists_tags_choice").click()
    page.keyboard.type("Apparel")
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    page.get_by_role("button", name="Apply Filter").click()
    wait_for_app(page)
    page.get_by_text("contacts match").wait_for()
    select_all = page.get_by_role("button", name="Select all")
    select_all.click()
    page.get_by_text("Added").first.wait_for()
    wait_for_app(page)
    page.screenshot(path=str(SCREENSHOTS / "email-lists-tag-filter.png"), full_page=True)
    page.get_by_role("link", name="Marketing Tags").click()
    wait_for_app(page)
    page.screenshot(path=str(SCREENSHOTS / "marketing-tags.png"), full_page=True)
    page.get_by_role("link", name="Email Lists").click()
    wait_for_app(page)
    page.get_by_placeholder("Email list title").fill("<b>Bold</b> **list**")
    page.get_by_role("button", name="Add").click()
    wait_for_app(page)
    page.get_by_text("Created list '<b>Bold</b> **list**'").wait_for()  # shown as typed
    page.screenshot(path=str(SCREENSHOTS / "email-lists.png"), full_page=True)

    page.get_by_role("link", name="Customers & Prospects").click()
    wait_for_app(page)
    page.get_by_text("can be put on email lists").wait_for()
    page.get_by_placeholder("company, name, email, job title").fill("script")
    page.keyboard.press("Enter")
    wait_for_app(page)
    page.get_by_text("1 contacts").wait_for()
    page.screenshot(path=str(SCREENSHOTS / "customers.png"), full_page=True)
    assert dialogs == []  # names with HTML never run as script
