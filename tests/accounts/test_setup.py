"""The setup page's first administrator: one, however many set-ups race for it."""

import asyncio

from sqlalchemy import select

from connect.accounts import service
from connect.accounts.models import User
from connect.errors import NotFound


def test_of_racing_setups_exactly_one_makes_an_administrator(site, client):
    context = site.ctx

    async def race():
        return await asyncio.gather(
            *(
                service.create_first_admin(
                    context,
                    username=f"admin{n}",
                    email=f"admin{n}@example.org",
                    password="a long setup password",
                )
                for n in range(4)
            ),
            return_exceptions=True,
        )

    outcomes = site.call(race)
    made = [o for o in outcomes if isinstance(o, User)]
    assert len(made) == 1, outcomes
    assert all(isinstance(o, NotFound) for o in outcomes if o not in made), outcomes

    async def accounts():
        async with context.db.read() as session:
            return list((await session.execute(select(User.username, User.site_role))).all())

    assert site.call(accounts) == [(made[0].username, "admin")]
    assert client.get("/setup").status_code == 404
