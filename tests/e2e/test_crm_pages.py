"""Customers & Prospects and Settings → Marketing Tags in a real browser: a refused save keeps what
was typed and names the value whole, a company just added is offered at once, deleting asks first
and says what goes, and every picker shows what still exists afterwards."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ctct import lists
from ctct.crm import demo, services
from ctct.db import Database
from tests.browser import wait_for_run
from tests.e2e.conftest import SCREENSHOTS, activated_console, wait_for_app

FORMULA = '=HYPERLINK("http://x.example","Click")'


@pytest.fixture(scope="module")
def crm_console(chromium_path: str, sandbox_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """A console of its own (these tests delete data), activated, on demo data with one company's
    contacts on a list linked to Constant Contact."""
    folder = tmp_path_factory.mktemp("crm_pages")
    database_url = f"sqlite:///{folder / 'console.db'}"
    database = Database(database_url)
    with database.session() as session:
        demo.load_demo_data(session, companies=12)
    with database.session() as session:
        frame = lists.contacts_frame(session)
        holder = frame[frame["eligible"]].iloc[0].to_dict()
        doomed = frame[frame["eligible"] & (frame["company"] != holder["company"])].iloc[0].to_dict()
        lists.create_list(session, "Newsletter").ctct_list_id = "linked-in-ctct"
        lists.add_members(session, "Newsletter", [doomed["email"]])
    database.dispose()
    with activated_console(database_url, sandbox_url, str(folder / "secret.key")) as url:
        yield {"url": url, "database_url": database_url, "holder": holder, "doomed": doomed}


def open_add_tab(page, url: str) -> None:
    page.goto(f"{url}/customers")
    wait_for_app(page)
    page.get_by_role("tab", name="Add or edit").click()


def pick(page, key: str, text: str) -> None:
    """Chooses the option of a selectbox (found by its widget key) that matches `text`."""
    box = page.locator(f".st-key-{key}").get_by_role("combobox")
    box.click()
    box.fill(text)
    page.keyboard.press("Enter")
    wait_for_run(page)


def shown_choice(page, key: str) -> str:
    """What a selectbox shows as chosen (its combobox holds the option's label)."""
    return page.locator(f".st-key-{key}").get_by_role("combobox").input_value()


def test_refused_saves_keep_what_was_typed_and_a_new_company_is_offered_at_once(page, crm_console):
    holder = crm_console["holder"]
    open_add_tab(page, crm_console["url"])
    page.get_by_label("Company name").fill(FORMULA)
    page.locator(".st-key-customers_company_kind").get_by_text("prospect").click()
    page.get_by_label("General email (optional)").fill("hello@zed.example")
    page.get_by_role("button", name="Add company").click()
    wait_for_run(page)
    alert = page.get_by_role("alert").filter(has_text="spreadsheet formula")
    assert f"company name '{FORMULA}' looks like a spreadsheet formula" in alert.inner_text()
    assert page.get_by_label("Company name").input_value() == FORMULA
    assert page.get_by_label("General email (optional)").input_value() == "hello@zed.example"
    assert page.locator(".st-key-customers_company_kind").get_by_role("radio", name="prospect").is_checked()

    page.get_by_label("Company name").fill("Zed Sports")
    page.get_by_role("button", name="Add company").click()
    page.get_by_text("Added the prospect 'Zed Sports'").wait_for()
    wait_for_run(page)
    assert page.get_by_label("Company name").input_value() == ""
    assert "Zed Sports · #" in shown_choice(page, "customers_contact_company")  # offered, and chosen

    typed = {"First name": "Dana", "Last name": "Duplicate", "Email": holder["email"].upper(), "Job title": "Buyer"}
    form = page.locator(".st-key-customers_contact_first").locator("xpath=ancestor::*[@data-testid='stForm']")
    for label, value in typed.items():
        form.get_by_label(label, exact=True).fill(value)
    page.get_by_role("button", name="Add contact").click()
    wait_for_run(page)
    refusal = page.get_by_role("alert").filter(has_text="already belongs to").inner_text()
    assert f"{holder['first_name']} {holder['last_name']} (#{holder['contact_id']}) of {holder['company']}" in refusal
    assert {label: form.get_by_label(label, exact=True).input_value() for label in typed} == typed
    page.screenshot(path=str(SCREENSHOTS / "customers-refusals.png"), full_page=True)

    form.get_by_label("Email", exact=True).fill("dana@zed.example")
    page.get_by_role("button", name="Add contact").click()
    page.get_by_text("Added Dana Duplicate").wait_for()
    wait_for_run(page)
    assert all(form.get_by_label(label, exact=True).input_value() == "" for label in typed)


def test_deleting_a_company_or_a_contact_asks_first_and_says_what_goes(page, crm_console):
    doomed = crm_console["doomed"]
    open_add_tab(page, crm_console["url"])
    pick(page, "customers_edit_target", doomed["company"])
    page.get_by_role("button", name="Delete company…").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_text("In Constant Contact:").wait_for()  # the dialog's body, not only its title
    text = dialog.inner_text()
    assert f"'{doomed['company']}' is deleted with its" in text
    assert "(Newsletter)" in text and "The next push" in text and "off Newsletter there" in text
    page.screenshot(path=str(SCREENSHOTS / "customers-delete-company.png"), full_page=True)
    dialog.get_by_role("button", name="Cancel").click()
    dialog.wait_for(state="detached")
    assert doomed["company"] in shown_choice(page, "customers_edit_target")  # nothing happened

    page.get_by_role("button", name="Delete company…").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete the company").click()
    page.get_by_role("dialog").wait_for(state="detached")
    page.get_by_text(f"Deleted '{doomed['company']}' with").wait_for()
    wait_for_app(page)
    # The pickers show a company that still exists, not the one deleted.
    for key in ("customers_edit_target", "customers_contact_company"):
        assert doomed["company"] not in shown_choice(page, key)
    with Database(crm_console["database_url"]).session() as session:
        assert not services.find_companies_by_name(session, doomed["company"])

    holder = crm_console["holder"]
    page.get_by_label("Find the contact").fill(holder["email"])
    page.keyboard.press("Enter")
    wait_for_run(page)
    page.get_by_role("button", name="Delete contact…").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_text("In Constant Contact:").wait_for()
    assert f"(#{holder['contact_id']}, {holder['email']}) of {holder['company']} is deleted" in dialog.inner_text()
    dialog.get_by_role("button", name="Delete the contact").click()
    dialog.wait_for(state="detached")
    page.get_by_text(f"Deleted {holder['first_name']} {holder['last_name']}").wait_for()
    wait_for_app(page)
    page.get_by_text("No contact matches.").wait_for()


def test_marketing_tags_show_their_companies_and_delete_asks_first(page, crm_console):
    with Database(crm_console["database_url"]).session() as session:
        usage = {row.tag: row.companies for row in services.tags_with_companies(session)}
    tag = next(name for name, companies in usage.items() if len(companies) >= 2)
    page.goto(f"{crm_console['url']}/marketing_tags")
    wait_for_app(page)
    # The table is drawn on a canvas; its column headers are in the page for screen readers.
    page.locator("th[role=columnheader]", has_text="Carried by").wait_for(state="attached")
    pick(page, "tags_chosen", tag)

    first = usage[tag][0]
    page.locator(".st-key-tags_remove_from").get_by_role("combobox").click()
    page.keyboard.type(first)
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    wait_for_run(page)
    page.get_by_role("button", name="Remove from companies").click()
    page.get_by_text(f"Took '{tag}' off '{first}'").wait_for()
    wait_for_app(page)
    page.screenshot(path=str(SCREENSHOTS / "marketing-tags-carried-by.png"), full_page=True)

    page.get_by_role("button", name="Delete tag…").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_text("Constant Contact has no marketing tags").wait_for()
    assert f"taken off the {len(usage[tag]) - 1} companies that carry it" in dialog.inner_text()
    page.screenshot(path=str(SCREENSHOTS / "marketing-tags-delete.png"), full_page=True)
    dialog.get_by_role("button", name="Delete the tag").click()
    dialog.wait_for(state="detached")
    page.get_by_text(f"Deleted the tag '{tag}'").wait_for()
    wait_for_app(page)
    # The tag picker shows a tag that exists, and the pickers beside it speak of that one.
    chosen = shown_choice(page, "tags_chosen")
    assert tag not in chosen
    remaining = next(name for name in usage if name != tag)
    assert remaining in chosen
    assert f"Give '{remaining}' to companies" in page.locator(".st-key-tags_assign_to").inner_text()
