"""A model-based random walk over the Email Lists page in a real browser.

A seeded random sequence of what a user does on the page — tick, untick, filters, search, Select
all, Clear all, Undo, paging, reload, switching and renaming lists — is played against the running
console and against a model of the membership it should leave. After every step, once the page is
idle: the database holds exactly the model's members, every row the grid shows is ticked if and
only if its contact is on the list in the model, the rows shown are those the filter selects, the
caption counts the model's members, and no exception is on the page.

Used by tests/e2e/test_email_lists_walk.py (a few seeds in CI) and bench/walk_email_lists.py (many).
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from sqlalchemy import select

from ctct import lists
from ctct.crm import demo, services
from ctct.db import Database
from ctct.db.models import EmailList, ListMembership, MembershipChange
from tests.browser import STREAMLIT_IDLE, wait_for_run

SEARCH_PLACEHOLDER = "company, name, email, job title"
CONTACT_TYPES = {"All": None, "Customer only": "customer", "Prospect only": "prospect"}
# Few rows per grid page, so that a demo-sized CRM has several pages to walk through.
PAGE_ROWS = 25
MEMBER_COUNT = re.compile(r"([\d,]+) on '")


class WalkFailure(AssertionError):
    """An invariant broke; the message names the seed, the step and the actions before it."""


@dataclass
class Crm:
    """The CRM as the test sees it: read once (the walk changes memberships only)."""

    frame: pd.DataFrame
    tags: list[str]

    @classmethod
    def read(cls, database: Database) -> Crm:
        with database.session() as session:
            frame = lists.contacts_frame(session)
        tags = sorted({tag for text in frame["tags"] for tag in text.split("; ") if tag})
        frame = frame.assign(
            tag_set=frame["tags"].map(lambda text: {tag for tag in text.split("; ") if tag}),
            haystack=frame[["company", "first_name", "last_name", "email", "job_title"]]
            .fillna("")
            .astype(str)
            .agg("\n".join, axis=1)
            .str.lower(),
        )
        return cls(frame.set_index("contact_id", drop=False), tags)

    def matching(self, contact_type: str, tags: tuple[str, ...], search: str) -> set[int]:
        chosen = self.frame
        kind = CONTACT_TYPES[contact_type]
        if kind:
            chosen = chosen[chosen["company_kind"] == kind]
        if tags:
            chosen = chosen[chosen["tag_set"].map(lambda held: bool(held & set(tags)))]
        needle = search.strip().lower()
        if needle:
            chosen = chosen[chosen["haystack"].str.contains(needle, regex=False)]
        return set(chosen.index)

    def retitle(self, contact_id: int, title: str) -> None:
        """A job title edited in the walk: search finds the new one."""
        self.frame.at[contact_id, "job_title"] = title
        fields = self.frame.loc[contact_id, ["company", "first_name", "last_name", "email", "job_title"]]
        self.frame.at[contact_id, "haystack"] = "\n".join(str(value or "") for value in fields).lower()

    def eligible(self, contact_ids: set[int]) -> set[int]:
        return {cid for cid in contact_ids if self.frame.at[cid, "eligible"]}


@dataclass
class Model:
    """What the page should hold: members per list (by list id), the view, the session's undo."""

    names: dict[int, str]
    members: dict[int, set[int]]
    chosen: int
    contact_type: str = "All"
    tags: tuple[str, ...] = ()
    search: str = ""
    members_only: bool = False
    # The session's effective changes, newest last: (list id, added, removed).
    undo: list[tuple[int, set[int], set[int]]] = field(default_factory=list)

    def reset_view(self) -> None:
        self.contact_type, self.tags, self.search, self.members_only = "All", (), "", False

    def change(self, list_id: int, added: set[int], removed: set[int]) -> None:
        added, removed = added - self.members[list_id], removed & self.members[list_id]
        if added or removed:
            self.members[list_id] = (self.members[list_id] | added) - removed
            self.undo.append((list_id, added, removed))


@dataclass
class GridRow:
    contact_id: int
    ticked: bool


class EmailListsPage:
    """The page's controls, as a user reaches them."""

    def __init__(self, page: object, url: str) -> None:
        self.page = page
        self.url = url

    # Waiting

    def settle(self) -> None:
        wait_for_run(self.page)

    def open(self) -> None:
        self.page.goto(self.url)
        self.page.wait_for_selector(STREAMLIT_IDLE, timeout=60_000)
        self.grid_frame().locator(".ag-row[row-id]").first.wait_for(timeout=30_000)

    # Reading

    def grid_frame(self) -> object:
        return self.page.frame_locator("iframe[title='st_aggrid.AgGrid.agGrid']").first

    def rows(self, in_view: bool = False) -> list[GridRow]:
        """The grid's rendered rows with their checkbox; `in_view` keeps those inside the grid's
        scrolled viewport (AG Grid renders a few more above and below, for scrolling)."""
        pairs = (
            self.grid_frame()
            .locator("body")
            .evaluate(
                """(inView) => {
                 const viewport = document.querySelector('.ag-body-viewport');
                 const bounds = viewport ? viewport.getBoundingClientRect() : null;
                 return Array.from(document.querySelectorAll('.ag-row[row-id]'))
                   .filter(row => {
                     if (!inView || !bounds) { return true; }
                     const box = row.getBoundingClientRect();
                     return box.top >= bounds.top && box.bottom <= bounds.bottom;
                   })
                   .map(row => [row.getAttribute('row-id'), row.querySelector('input[type=checkbox]')])
                   .filter(([id, box]) => box !== null)
                   .map(([id, box]) => [id, box.checked]);
               }""",
                in_view,
            )
        )
        return [GridRow(int(contact_id), bool(ticked)) for contact_id, ticked in pairs]

    def caption_count(self) -> int | None:
        for text in self.page.locator('[data-testid="stCaptionContainer"]').all_inner_texts():
            found = MEMBER_COUNT.search(text)
            if found:
                return int(found.group(1).replace(",", ""))
        return None

    def exceptions(self) -> list[str]:
        return self.page.locator('[data-testid="stException"]').all_inner_texts()

    def has(self, selector: str) -> bool:
        return self.page.locator(selector).count() > 0

    # Acting

    def click_row(self, contact_id: int) -> None:
        self.grid_frame().locator(f'.ag-row[row-id="{contact_id}"] input[type=checkbox]').first.click()

    def edit_cell(self, contact_id: int, column: str, text: str) -> None:
        cell = self.grid_frame().locator(f'.ag-row[row-id="{contact_id}"] [col-id="{column}"]').first
        cell.dblclick()
        editor = self.grid_frame().locator(".ag-cell-inline-editing input").first
        editor.fill(text)
        editor.press("Enter")

    def cell_text(self, contact_id: int, column: str) -> str | None:
        cell = self.grid_frame().locator(f'.ag-row[row-id="{contact_id}"] [col-id="{column}"]')
        return cell.first.inner_text().strip() if cell.count() else None

    def contact_type(self, label: str) -> None:
        self.page.locator(".st-key-email_lists_type").get_by_text(label, exact=True).click()

    def apply_tags(self, tags: tuple[str, ...]) -> None:
        box = self.page.locator(".st-key-email_lists_tags_choice")
        clear = box.locator('button[aria-label="Clear all"]')
        if clear.count():
            clear.first.click()
        for tag in tags:
            box.locator("input").first.click()
            self.page.keyboard.type(tag)
            self.page.get_by_role("option", name=tag, exact=True).click()
        self.page.keyboard.press("Escape")
        # The list of options closes with an animation; a click before it ends goes to the page.
        self.page.get_by_role("listbox").wait_for(state="hidden")
        self.page.get_by_role("button", name="Apply Filter").click()

    def search(self, text: str) -> None:
        box = self.page.get_by_placeholder(SEARCH_PLACEHOLDER)
        box.fill(text)
        box.press("Enter")

    def button(self, key: str) -> object:
        return self.page.locator(f".st-key-{key} button").first

    def choose_list(self, name: str) -> None:
        option = self.page.get_by_role("option", name=name, exact=True)
        for _attempt in range(3):
            # A click landing while the page still settles can leave the box focused but closed.
            self.page.locator('.st-key-email_lists_chosen [role="combobox"]').click()
            try:
                option.wait_for(timeout=3_000)
                break
            except PlaywrightTimeout:  # try to open it again
                self.page.keyboard.press("Escape")
        option.click()

    def rename(self, new_name: str) -> None:
        self.page.locator(".st-key-email_lists_rename_to input").fill(new_name)
        self.page.get_by_role("button", name="Rename", exact=True).click()


class Walk:
    def __init__(
        self, page: EmailListsPage, database: Database, seed: int, steps: int, screenshots: Path | None = None
    ) -> None:
        self.ui = page
        self.screenshots = screenshots
        self.database = database
        self.seed = seed
        self.steps = steps
        self.random = random.Random(seed)
        self.crm = Crm.read(database)
        self.model = self._read_model()
        self.done: list[str] = []
        self.renames = 0
        self.edits = 0
        # Cells edited in the walk: (contact id, column) -> the value the database must hold.
        self.edited: dict[tuple[int, str], str] = {}

    def _read_model(self) -> Model:
        with self.database.session() as session:
            names = {email_list.id: email_list.name for email_list, _ in lists.all_lists(session)}
            members = {list_id: set() for list_id in names}
            for list_id, contact_id in session.execute(select(ListMembership.list_id, ListMembership.contact_id)):
                members[list_id].add(contact_id)
        first = min(names, key=lambda list_id: names[list_id].lower())
        return Model(names=names, members=members, chosen=first)

    # The invariants

    def stored(self) -> dict[int, set[int]]:
        with self.database.session() as session:
            held: dict[int, set[int]] = {list_id: set() for list_id in session.scalars(select(EmailList.id))}
            for list_id, contact_id in session.execute(select(ListMembership.list_id, ListMembership.contact_id)):
                held[list_id].add(contact_id)
            names = dict(session.execute(select(EmailList.id, EmailList.name)).all())
        if names != self.model.names:
            self.fail(f"lists are {names}, the model has {self.model.names}")
        return held

    def journal(self) -> list[str]:
        with self.database.session() as session:
            rows = session.execute(
                select(
                    MembershipChange.id, MembershipChange.how, MembershipChange.added, MembershipChange.removed
                ).order_by(MembershipChange.id.desc())
            ).all()
        return [f"#{change_id} {how} +{added} -{removed}" for change_id, how, added, removed in rows[:8]]

    def shown_by_model(self) -> set[int]:
        shown = self.crm.matching(self.model.contact_type, self.model.tags, self.model.search)
        if self.model.members_only:
            shown &= self.model.members[self.model.chosen]
        return shown

    def check(self) -> None:
        stored = self.stored()
        if stored != self.model.members:
            diff = {
                self.model.names[list_id]: {
                    "missing": sorted(self.model.members[list_id] - stored.get(list_id, set())),
                    "extra": sorted(stored.get(list_id, set()) - self.model.members[list_id]),
                }
                for list_id in self.model.members
                if stored.get(list_id) != self.model.members[list_id]
            }
            self.fail(f"the database differs from the model: {diff}\n  journal, newest first: {self.journal()}")
        for (contact_id, column), value in self.edited.items():
            if self.stored_value(contact_id, column) != value:
                self.fail(f"contact {contact_id}'s {column} is not {value!r} in the database")
        deadline = time.monotonic() + 10
        while True:
            problem = self.screen_problem()
            if problem is None:
                return
            if time.monotonic() > deadline:
                self.fail(problem)
            time.sleep(0.25)

    def screen_problem(self) -> str | None:
        errors = self.ui.exceptions()
        if errors:
            return f"an exception is on the page: {errors[0][:500]}"
        members = self.model.members[self.model.chosen]
        count = self.ui.caption_count()
        if count != len(members):
            return f"the caption counts {count} on the list, the model {len(members)}"
        rows = self.ui.rows()
        if not rows and self.shown_by_model():
            return "the grid shows no rows"
        wrong = [row.contact_id for row in rows if row.ticked != (row.contact_id in members)]
        if wrong:
            return f"rows ticked wrongly (ticked on screen ≠ member): {wrong[:10]}"
        foreign = [row.contact_id for row in rows if row.contact_id not in self.shown_by_model()]
        if foreign:
            return f"rows shown that the filter does not select: {foreign[:10]}"
        shown = {row.contact_id for row in rows}
        for (contact_id, column), value in self.edited.items():
            text = self.ui.cell_text(contact_id, column) if contact_id in shown else None
            if text is not None and text != value:
                return f"contact {contact_id} shows {column} {text!r}, the database holds {value!r}"
        return None

    def stored_value(self, contact_id: int, column: str) -> str:
        with self.database.session() as session:
            contact = services.get_contact(session, contact_id)
            return getattr(contact, column) or ""

    def fail(self, message: str) -> None:
        if self.screenshots is not None:
            self.screenshots.mkdir(parents=True, exist_ok=True)
            self.ui.page.screenshot(path=str(self.screenshots / f"walk-failure-seed-{self.seed}.png"))
        recent = "; ".join(self.done[-8:])
        raise WalkFailure(f"seed {self.seed}, step {len(self.done)}: {message}\n  steps so far: {recent}")

    # The actions: each returns False when it does not apply right now (nothing was done).

    def visible_rows(self) -> list[GridRow]:
        return self.ui.rows(in_view=True)

    def tick(self) -> bool:
        members = self.model.members[self.model.chosen]
        candidates = [
            row.contact_id
            for row in self.visible_rows()
            if row.contact_id not in members and self.crm.frame.at[row.contact_id, "eligible"]
        ]
        if not candidates:
            return False
        contact_id = self.random.choice(candidates)
        self.ui.click_row(contact_id)
        self.model.change(self.model.chosen, {contact_id}, set())
        self.done.append(f"tick {contact_id}")
        return True

    def untick(self) -> bool:
        members = self.model.members[self.model.chosen]
        candidates = [row.contact_id for row in self.visible_rows() if row.contact_id in members]
        if not candidates:
            return False
        contact_id = self.random.choice(candidates)
        self.ui.click_row(contact_id)
        self.model.change(self.model.chosen, set(), {contact_id})
        self.done.append(f"untick {contact_id}")
        return True

    def tick_two_quickly(self) -> bool:
        """Two ticks without waiting in between, as a fast user clicks."""
        members = self.model.members[self.model.chosen]
        candidates = [
            row.contact_id
            for row in self.visible_rows()
            if row.contact_id not in members and self.crm.frame.at[row.contact_id, "eligible"]
        ]
        if len(candidates) < 2:
            return False
        first, second = self.random.sample(candidates, 2)
        self.ui.click_row(first)
        self.ui.click_row(second)
        self.model.change(self.model.chosen, {first}, set())
        self.model.change(self.model.chosen, {second}, set())
        self.done.append(f"tick {first} and {second} quickly")
        return True

    def edit_job_title(self) -> bool:
        rows = self.visible_rows()
        if not rows:
            return False
        self.edits += 1
        contact_id, title = self.random.choice(rows).contact_id, f"Buyer {self.edits}"
        self.ui.edit_cell(contact_id, "job_title", title)
        self.edited[(contact_id, "job_title")] = title
        self.crm.retitle(contact_id, title)
        self.done.append(f"job title of {contact_id} -> {title!r}")
        return True

    def edit_email_badly(self) -> bool:
        """An invalid email is refused: the cell shows the stored email again."""
        rows = self.visible_rows()
        if not rows:
            return False
        contact_id = self.random.choice(rows).contact_id
        self.ui.edit_cell(contact_id, "email", "not-an-email")
        self.edited[(contact_id, "email")] = self.stored_value(contact_id, "email")
        self.done.append(f"email of {contact_id} -> 'not-an-email' (refused)")
        return True

    def contact_type(self) -> bool:
        label = self.random.choice([label for label in CONTACT_TYPES if label != self.model.contact_type])
        self.ui.contact_type(label)
        self.model.contact_type = label
        self.done.append(f"Contact Type {label}")
        return True

    def tag_filter(self) -> bool:
        tags = tuple(sorted(self.random.sample(self.crm.tags, self.random.choice([1, 1, 2]))))
        self.ui.apply_tags(tags)
        self.model.tags = tags
        self.done.append(f"tags {tags} + Apply Filter")
        return True

    def clear_tags(self) -> bool:
        if not self.model.tags:
            return False
        self.ui.apply_tags(())
        self.model.tags = ()
        self.done.append("clear the tag filter")
        return True

    def search(self) -> bool:
        row = self.crm.frame.iloc[self.random.randrange(len(self.crm.frame))]
        source = self.random.choice([row["company"], row["last_name"] or row["company"], row["email"] or "a"])
        start = self.random.randrange(max(1, len(source) - 3))
        term = source[start : start + self.random.choice([2, 3, 4])].strip() or source[:3]
        self.ui.search(term)
        self.model.search = term
        self.done.append(f"search {term!r}")
        return True

    def clear_search(self) -> bool:
        if not self.model.search:
            return False
        self.ui.search("")
        self.model.search = ""
        self.done.append("clear search")
        return True

    def select_all(self) -> bool:
        button = self.ui.button("email_lists_select_all")
        if self.model.members_only or not button.count() or button.is_disabled():
            return False
        matching = self.crm.matching(self.model.contact_type, self.model.tags, self.model.search)
        button.click()
        self.model.change(self.model.chosen, self.crm.eligible(matching), set())
        self.done.append("Select all")
        return True

    def clear_all(self) -> bool:
        button = self.ui.button("email_lists_clear_all")
        if not button.count() or button.is_disabled():
            return False
        matching = self.crm.matching(self.model.contact_type, self.model.tags, self.model.search)
        button.click()
        self.model.change(self.model.chosen, set(), matching)
        self.done.append("Clear all")
        return True

    def undo(self) -> bool:
        button = self.ui.button("email_lists_undo_button")
        if not self.model.undo or not button.count() or button.is_disabled():
            return False
        button.click()
        list_id, added, removed = self.model.undo.pop()
        self.model.members[list_id] = (self.model.members[list_id] - added) | removed
        self.done.append(f"Undo (on {self.model.names[list_id]!r}: -{len(added)} +{len(removed)})")
        return True

    def members_only(self) -> bool:
        toggle = self.ui.page.locator(".st-key-email_lists_members_only")
        if not toggle.count():
            return False
        toggle.locator("label").first.click()
        self.model.members_only = not self.model.members_only
        self.done.append(f"Members only {'on' if self.model.members_only else 'off'}")
        return True

    def next_page(self) -> bool:
        step_up = self.ui.page.locator('.st-key-email_lists_page [data-testid="stNumberInputStepUp"]')
        if not step_up.count() or step_up.is_disabled():
            return False
        step_up.click()
        self.done.append("next grid page")
        return True

    def reload(self) -> bool:
        self.ui.page.reload()
        self.ui.page.wait_for_selector(STREAMLIT_IDLE, timeout=60_000)
        # A new browser session: the view starts afresh and the undo of the old session is gone.
        self.model.reset_view()
        self.model.undo.clear()
        if not self.list_in_url():
            self.model.chosen = min(self.model.names, key=lambda list_id: self.model.names[list_id].lower())
        self.done.append("reload")
        return True

    def list_in_url(self) -> bool:
        return "list=" in self.ui.page.url

    def switch_list_and_back(self) -> bool:
        others = [list_id for list_id in self.model.names if list_id != self.model.chosen]
        if not others:
            return False
        back, other = self.model.chosen, self.random.choice(others)
        self.ui.choose_list(self.model.names[other])
        self.model.chosen = other
        self.ui.settle()
        self.done.append(f"switch to {self.model.names[other]!r}")
        self.check()
        self.ui.choose_list(self.model.names[back])
        self.model.chosen = back
        self.done.append("and back")
        return True

    def rename(self) -> bool:
        self.renames += 1
        old = self.model.names[self.model.chosen]
        new_name = f"{old.split(' #')[0]} #{self.renames}"
        self.ui.rename(new_name)
        self.model.names[self.model.chosen] = new_name
        self.done.append(f"rename {old!r} to {new_name!r}")
        return True

    def actions(self) -> list[tuple[Callable[[], bool], int]]:
        """Each action with its weight: ticks are what users do most."""
        return [
            (self.tick, 6),
            (self.untick, 4),
            (self.tick_two_quickly, 2),
            (self.contact_type, 3),
            (self.tag_filter, 2),
            (self.clear_tags, 2),
            (self.search, 2),
            (self.clear_search, 2),
            (self.select_all, 2),
            (self.clear_all, 2),
            (self.undo, 3),
            (self.members_only, 2),
            (self.next_page, 2),
            (self.reload, 1),
            (self.switch_list_and_back, 1),
            (self.rename, 1),
            (self.edit_job_title, 1),
            (self.edit_email_badly, 1),
        ]

    def run(self) -> list[str]:
        self.ui.open()
        self.check()
        actions = self.actions()
        while len(self.done) < self.steps:
            action = self.random.choices([a for a, _ in actions], [w for _, w in actions])[0]
            try:
                acted = action()
            except WalkFailure:
                raise
            except Exception as error:  # any failure of the page is reported with the steps before it
                self.fail(f"{action.__name__} failed: {str(error)[:3000]}")
            if acted:
                self.ui.settle()
                self.check()
        return self.done


def prepare_database(path: Path, seed: int) -> Database:
    """A demo CRM (about 120 contacts) with two lists that already have members."""
    database = Database(f"sqlite:///{path}")
    with database.session() as session:
        demo.load_demo_data(session, companies=40, seed=seed)
        frame = lists.contacts_frame(session)
        eligible = frame.loc[frame["eligible"], "contact_id"].astype(int).tolist()
        picker = random.Random(seed)
        for name, size in (("Alpha", 6), ("Beta", 4)):
            lists.create_list(session, name)
            lists.add_contacts(session, name, picker.sample(eligible, size))
    return database


def console_env(database_path: Path, key_file: Path) -> dict[str, str]:
    return {
        "CTCT_DATABASE_URL": f"sqlite:///{database_path}",
        "CTCT_DEMO_MODE": "1",
        "CTCT_SECRET_KEY_FILE": str(key_file),
        "CTCT_GRID_PAGE_ROWS": str(PAGE_ROWS),
    }
