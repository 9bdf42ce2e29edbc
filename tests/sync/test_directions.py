"""A direction the service does not know is an error, never taken for a pull."""

import dataclasses

import pytest
from sqlalchemy import func, select

from ctct.db.models import SyncRun
from ctct.errors import InvalidInput

MESSAGE = "direction 'sideways' is not one of push, pull, import, both"


def runs(database):
    with database.session() as session:
        return session.scalar(select(func.count()).select_from(SyncRun))


def test_planning_an_unknown_direction_is_refused_before_any_request(service):
    used = service.client.budget.used()
    with pytest.raises(InvalidInput) as refused:
        service.plan("sideways")
    assert refused.value.field == "direction"
    assert str(refused.value) == MESSAGE
    assert service.client.budget.used() == used


def test_committing_a_plan_of_an_unknown_direction_is_refused_and_journals_nothing(service, database):
    plan = dataclasses.replace(service.plan("pull"), direction="sideways")
    used = service.client.budget.used()
    with pytest.raises(InvalidInput, match=MESSAGE):
        service.commit(plan)
    assert runs(database) == 0
    assert service.client.budget.used() == used


def test_resuming_an_unknown_direction_is_refused(service, database):
    with pytest.raises(InvalidInput, match=MESSAGE):
        service.resume("sideways")
    assert runs(database) == 0


@pytest.mark.parametrize("direction", ["push", "pull", "import"])
def test_the_known_directions_plan_as_themselves(service, direction):
    assert service.plan(direction).direction == direction
