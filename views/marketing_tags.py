"""Settings → Marketing Tags: create, rename, delete (asks first); assign to companies and take
off them; which companies carry each tag.

Every action is a callback that changes the store before the page draws, so the table and the
pickers below it show the result at once; a refused action keeps what was typed and says why."""

from collections.abc import Callable

import streamlit as st
from sqlalchemy.orm import Session

from ctct.crm import services
from ctct.errors import ConsoleError
from ctct.ui.state import database
from ctct.ui.text import plain

st.title("Settings · Marketing Tags")
for message in st.session_state.pop("tags_said", []):
    st.toast(message, icon=":material/check:")
# Set by the deletion's buttons for its dialog to close; a run of the whole page drops it, so that
# a dialog opened later does not close at once.
st.session_state.pop("tags_deleted", None)


def say(message: str) -> None:
    """Queues a toast for the run the action leads to (a dialog's confirmation ends in a rerun)."""
    st.session_state.setdefault("tags_said", []).append(plain(message))


def refuse(place: str, message: object) -> None:
    st.session_state[f"tags_refused_{place}"] = plain(message)


def show_refusal(place: str) -> None:
    message = st.session_state.pop(f"tags_refused_{place}", None)
    if message:
        st.error(message)


def act(action: Callable[[Session], object], message: str, place: str, *, clear: tuple[str, ...] = ()) -> None:
    """Runs `action` in one transaction; says `message`, or keeps the refusal to show at `place`.
    The widgets named in `clear` are emptied only when it worked."""
    try:
        with database().session() as session:
            action(session)
    except ConsoleError as error:
        refuse(place, error)
        return
    for key in clear:
        st.session_state[key] = [] if isinstance(st.session_state.get(key), list) else ""
    say(message)


def create_tag() -> None:
    name = st.session_state.get("tags_new_name", "")
    act(
        lambda session: services.create_tag(session, name),
        f"Created the tag '{name.strip()}'",
        "create",
        clear=("tags_new_name",),
    )


def rename_tag(old_name: str) -> None:
    new_name = st.session_state.get("tags_rename_to", "")

    def rename(session: Session) -> None:
        renamed = services.rename_tag(session, old_name, new_name)
        st.session_state["tags_chosen"] = renamed.name  # the renamed tag stays chosen

    act(rename, f"Renamed '{old_name}' to '{new_name.strip()}'", "tag", clear=("tags_rename_to",))


def assign(tag: str, key: str, companies: dict[int, str]) -> None:
    picked = list(st.session_state.get(key, []))
    if not picked:
        refuse("assign", f"Choose the companies to give '{tag}' to first.")
        return

    def assign_all(session: Session) -> None:
        for company_id in picked:
            services.assign_tags(session, company_id, [tag])

    act(assign_all, f"Gave '{tag}' to {described(picked, companies)}", "assign", clear=(key,))


def take_off(tag: str, key: str, companies: dict[int, str]) -> None:
    picked = list(st.session_state.get(key, []))
    if not picked:
        refuse("remove", f"Choose the companies to take '{tag}' off first.")
        return

    def take_off_all(session: Session) -> None:
        for company_id in picked:
            services.unassign_tags(session, company_id, [tag])

    act(take_off_all, f"Took '{tag}' off {described(picked, companies)}", "remove", clear=(key,))


def described(company_ids: list[int], companies: dict[int, str]) -> str:
    names = [companies.get(company_id, f"#{company_id}") for company_id in company_ids]
    if len(names) <= 3:
        return ", ".join(f"'{name}'" for name in names)
    return f"{len(names):,} companies"


def delete_tag(tag: str) -> None:
    try:
        with database().session() as session:
            carried = services.delete_tag(session, tag)
    except ConsoleError as error:
        refuse("tag", error)
    else:
        say(f"Deleted the tag '{tag}' (taken off {carried:,} companies)")
    st.session_state["tags_deleted"] = True


def cancel_deletion() -> None:
    st.session_state["tags_deleted"] = True


def forget_picks() -> None:
    """Another tag chosen: what was picked for one tag is not given to, or taken off, another."""
    # Emptied, not dropped: a dropped key leaves the browser showing the old picks.
    for key in ("tags_assign_to", "tags_remove_from"):
        st.session_state[key] = []


@st.dialog("Delete this tag?")
def confirm_deletion(tag: str, carriers: tuple[str, ...]) -> None:
    if st.session_state.pop("tags_deleted", False):
        st.rerun()  # closes the dialog
    if carriers:
        shown = ", ".join(carriers[:10]) + (f" and {len(carriers) - 10:,} more" if len(carriers) > 10 else "")
        who = f"It is taken off the {len(carriers):,} companies that carry it ({shown})."
    else:
        who = "No company carries it."
    st.markdown(
        plain(
            f"'{tag}' is deleted. {who} The companies, their contacts and the members of every email list stay "
            "as they are. Constant Contact has no marketing tags: nothing changes there."
        )
    )
    buttons = st.container(horizontal=True)
    buttons.button("Delete the tag", type="primary", key="tags_delete_confirm", on_click=delete_tag, args=(tag,))
    buttons.button("Cancel", key="tags_delete_cancel", on_click=cancel_deletion)


with st.form("tags_new"):
    st.text_input("New marketing tag", key="tags_new_name")
    st.form_submit_button("Create", on_click=create_tag)
    show_refusal("create")

with database().session() as session:
    usage = services.tags_with_companies(session)
    companies = dict(services.company_choices(session))

if not usage:
    st.info("No marketing tags yet.")
    st.stop()

st.dataframe(
    [{"Tag": row.tag, "Companies": len(row.companies), "Carried by": list(row.companies)} for row in usage],
    hide_index=True,
    width="stretch",
    column_config={
        "Companies": st.column_config.NumberColumn("Companies", width="small"),
        "Carried by": st.column_config.ListColumn("Carried by", width="large"),
    },
)
carriers_of = {row.tag: row.companies for row in usage}
if st.session_state.get("tags_chosen") not in carriers_of:
    # The chosen tag is gone (deleted here or elsewhere): the first one is shown instead. Assigned,
    # not dropped: a dropped key leaves the browser showing the old choice.
    st.session_state["tags_chosen"] = next(iter(carriers_of))
chosen = st.selectbox(
    "Tag",
    list(carriers_of),
    key="tags_chosen",
    on_change=forget_picks,
)
with database().session() as session:
    carrying = dict(services.tag_companies(session, chosen))


def label(company_id: int) -> str:
    # Labels carry the id: two companies may share a name.
    return f"{companies[company_id]} · #{company_id}"


left, right = st.columns(2)
with left:
    with st.form("tags_rename", border=False):
        st.text_input("Rename to", key="tags_rename_to")
        st.form_submit_button("Rename", on_click=rename_tag, args=(chosen,))
    show_refusal("tag")
    if st.button("Delete tag…", key="tags_delete", icon=":material/delete:"):
        confirm_deletion(chosen, carriers_of[chosen])
with right:
    assign_key, remove_key = "tags_assign_to", "tags_remove_from"
    others = [company_id for company_id in companies if company_id not in carrying]
    for key, offered in ((assign_key, others), (remove_key, list(carrying))):
        picks = st.session_state.get(key, [])
        if any(company_id not in offered for company_id in picks):
            # The store changed underneath (another session, say): only what is still offered stays.
            st.session_state[key] = [company_id for company_id in picks if company_id in offered]
    # Labels are Markdown: the tag's name is escaped to show as typed.
    st.multiselect(f"Give '{plain(chosen)}' to companies", others, format_func=label, key=assign_key)
    st.button("Assign", key="tags_assign", on_click=assign, args=(chosen, assign_key, companies))
    show_refusal("assign")
    st.multiselect(f"Take '{plain(chosen)}' off companies", list(carrying), format_func=label, key=remove_key)
    st.button("Remove from companies", key="tags_unassign", on_click=take_off, args=(chosen, remove_key, companies))
    show_refusal("remove")
