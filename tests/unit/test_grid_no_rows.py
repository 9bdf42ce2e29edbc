"""The Email Lists grid drawn without rows (a server's first visit, while the CRM is read) has the
columns the grid gets when its rows come: AG Grid keeps them instead of rebuilding."""

from st_aggrid import JsCode

from ctct import lists
from ctct.crm import demo
from ctct.db import Database
from ctct.ui import grid


def grid_columns(frame):
    shown = frame[[*grid.GRID_COLUMNS, "contact_id", "eligible"]].copy()
    shown["drawn_after"] = 0
    # Each build makes its own JsCode objects: compare their code.
    return [
        {name: value.js_code if isinstance(value, JsCode) else value for name, value in column.items()}
        for column in grid._grid_options(shown)["columnDefs"]
    ]


def test_the_grid_without_rows_has_the_columns_of_the_grid_with_them(database_url):
    database = Database(database_url)
    with database.session() as session:
        demo.load_demo_data(session, companies=3)
        email_list = lists.create_list(session, "News")
        contacts = lists.contacts_frame(session, email_list=email_list)
    database.dispose()
    assert len(contacts) and grid.no_rows().empty
    assert grid_columns(grid.no_rows()) == grid_columns(contacts)
