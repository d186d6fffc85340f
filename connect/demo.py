"""`connect demo`: seed a believable demo site so that a newcomer sees a living community.

Running it twice changes nothing: every part is skipped if it is already there. It seeds only
an empty site or one it seeded before: its accounts share a published password.
"""

from __future__ import annotations

import random
from datetime import timedelta

from sqlalchemy import select, update

from connect.accounts import service as accounts
from connect.accounts.models import User
from connect.boards import service as boards
from connect.boards.models import Post, Thread
from connect.communities import memberships
from connect.communities import service as communities
from connect.communities.models import Community
from connect.communities.service import viewer_of
from connect.db import utcnow
from connect.members.models import Profile

DEMO_PASSWORD = "connect demo password"

COMMUNITIES = [
    ("cataloging", "Cataloging and Metadata", "open", "none",
     "RDA, BIBFRAME, authority control and everything about describing collections."),
    ("youth-services", "Youth Services", "open", "new_members",
     "Story times, summer reading, teen spaces and school partnerships."),
    ("library-tech", "Library Technology", "open", "none",
     "Integrated library systems, discovery layers, open source and digital services."),
    ("intellectual-freedom", "Intellectual Freedom", "closed", "none",
     "Challenges, policies and support for members defending the freedom to read."),
    ("governing-council", "Governing Council", "closed", "all",
     "Working space of the council: agendas, motions and minutes."),
    ("awards-committee", "Awards Committee", "private", "none",
     "Confidential deliberations of the awards jury."),
]  # fmt: skip

FIRST = ["Ana", "Ben", "Chloe", "Dev", "Elena", "Farid", "Grace", "Hiro", "Imani", "Jonas",
         "Kira", "Luis", "Maya", "Noor", "Omar", "Priya", "Quinn", "Rosa", "Sam", "Tess",
         "Uma", "Victor", "Wen", "Yusuf"]  # fmt: skip
LAST = ["Okafor", "Lindqvist", "Tanaka", "Moreau", "Haddad", "Kowalski", "Nguyen", "Silva",
        "Brennan", "Abara", "Fischer", "Rahman"]  # fmt: skip
TITLES = ["Cataloging Librarian", "Youth Services Manager", "Systems Librarian",
          "Library Director", "Reference Librarian", "Metadata Specialist", "Branch Manager",
          "Digital Services Coordinator"]  # fmt: skip
ORGS = ["Springfield Public Library", "Riverside County Library", "State University Libraries",
        "Lakeside Community College", "Metro Library System", "Harbor City Library"]  # fmt: skip
PLACES = ["Chicago, IL", "Portland, OR", "Austin, TX", "Boston, MA", "Denver, CO", "Atlanta, GA"]
INTERESTS = ["cataloging", "linked data", "story time", "makerspaces", "open source",
             "digital preservation", "outreach", "intellectual freedom"]  # fmt: skip

TOPICS = {
    "cataloging": [
        ("Moving our catalog from MARC to BIBFRAME", "We are planning a pilot next year. "
         "Has anyone converted a subset of records with the Library of Congress tools?"),
        ("Authority control for local names", "How do you handle local authors who will "
         "never get a national authority record?"),
        ("RDA relationship designators: how strict are you?", "Our team disagrees on whether "
         "every access point needs a designator."),
    ],
    "youth-services": [
        ("Summer reading ideas that are not about points", "We want to move away from "
         "prizes. What has worked for you?"),
        ("Sensory story time: set-up and supplies", "Looking for a checklist for a first "
         "sensory-friendly story time."),
    ],
    "library-tech": [
        ("Self-hosting a discovery layer", "Is anyone running VuFind or Blacklight in production "
         "on a small budget?"),
        ("Patron privacy and analytics", "Which analytics tools respect patron privacy well "
         "enough to use on the catalog?"),
    ],
    "intellectual-freedom": [
        ("Responding to a challenge at a board meeting", "A challenge is on our board agenda "
         "next month. What should our director prepare?"),
    ],
    "governing-council": [
        ("Agenda for the spring meeting", "Please add items for the spring meeting here."),
    ],
    "awards-committee": [
        ("Shortlist discussion", "Let us narrow the list to five titles by the end of the month."),
    ],
}  # fmt: skip

REPLIES = [
    "We tried this last year and it went better than expected. Happy to share our notes.",
    "Good question. Our approach was to start small and document every decision.",
    "+1 to this. We ran into the same problem and ended up writing a local policy.",
    "Have you looked at the recent webinar on this? The slides are in our library.",
    "We are in the same spot. Let's compare notes after the conference.",
    "Our consortium has a working group on exactly this; I can connect you.",
]


class NotADemoSite(Exception):
    """The site has accounts of its own: seeding would add an administrator anyone can use."""


async def seed(context, *, rng: random.Random | None = None, report=print) -> None:
    rng = rng or random.Random(2026)
    async with context.db.read() as session:
        others = await session.scalar(
            select(User.id).where(User.email.not_like("%@demo.example")).limit(1)
        )
    if others is not None:
        raise NotADemoSite(
            "This site already has members of its own. `connect demo` seeds only an empty "
            "site (or tops up a demo site): its accounts, an administrator among them, share "
            "a published password."
        )
    users = await _members(context, rng, report)
    admin = users[0]
    await _communities(context, admin, users, rng, report)


async def _members(context, rng: random.Random, report) -> list[User]:
    names = [(first, last) for first in FIRST for last in LAST]
    rng.shuffle(names)
    people = [("demo-admin", "Demo Administrator", "admin")] + [
        (f"{first}-{last}".lower(), f"{first} {last}", "member") for first, last in names[:40]
    ]
    users: list[User] = []
    created = 0
    for username, display_name, role in people:
        async with context.db.read() as session:
            user = (
                await session.execute(select(User).where(User.username == username))
            ).scalar_one_or_none()
        if user is None:
            user = await accounts.register(
                context,
                username=username,
                email=f"{username}@demo.example",
                password=DEMO_PASSWORD,
                display_name=display_name,
                site_role=role,
            )
            async with context.db.transaction() as session:
                profile = await session.get(Profile, user.id)
                profile.title = rng.choice(TITLES)
                profile.organization = rng.choice(ORGS)
                profile.location = rng.choice(PLACES)
                profile.interests = ", ".join(rng.sample(INTERESTS, 3))
                profile.bio = f"{display_name} works in libraries and likes to share what works."
                profile.preferences = {"subscription_mode": "in_app", "email_replies": "in_app"}
                await session.execute(
                    update(User)
                    .where(User.id == user.id)
                    .values(created_at=utcnow() - timedelta(days=rng.randint(200, 900)))
                )
            created += 1
        users.append(user)
    report(f"members: {created} created, {len(users) - created} already there")
    return users


async def _communities(context, admin: User, users: list[User], rng: random.Random, report) -> None:
    for slug, name, visibility, moderation, description in COMMUNITIES:
        async with context.db.read() as session:
            exists = (
                await session.execute(select(Community.id).where(Community.slug == slug))
            ).first()
        if exists:
            report(f"community {slug}: already there")
            continue
        async with context.db.transaction() as session:
            viewer = await viewer_of(session, admin)
            community = await communities.create_community(
                session,
                viewer,
                {
                    "slug": slug,
                    "name": name,
                    "description": description,
                    "visibility": visibility,
                    "moderation": "none",
                },
            )
            members = rng.sample(users[1:], 6 if visibility == "private" else 18)
            for user in members:
                await memberships.set_role(session, viewer, community, user.username, "member")
            await memberships.set_role(session, viewer, community, members[0].username, "moderator")
        posts = await _discussions(context, community, members, rng)
        async with context.db.transaction() as session:
            viewer = await viewer_of(session, admin)
            community = await session.get(Community, community.id)
            await communities.update_community(
                session, viewer, community, {"moderation": moderation}
            )
        report(f"community {slug}: created with {len(members) + 1} members and {posts} posts")


async def _discussions(context, community: Community, members: list[User], rng) -> int:
    count = 0
    for title, body in TOPICS.get(community.slug, []):
        start = utcnow() - timedelta(days=rng.randint(20, 300), hours=rng.randint(0, 23))
        async with context.db.transaction() as session:
            author = await session.get(User, rng.choice(members).id)
            viewer = await viewer_of(session, author)
            community = await session.get(Community, community.id)
            thread, first = await boards.create_thread(
                session, viewer, community, title=title, body=body
            )
            when = start
            await _backdate(session, first.id, when)
            last_id = first.id
            for _ in range(rng.randint(2, 7)):
                replier = await session.get(User, rng.choice(members).id)
                reply_viewer = await viewer_of(session, replier)
                when += timedelta(hours=rng.randint(2, 72))
                post = await boards.reply(
                    session,
                    reply_viewer,
                    thread,
                    community,
                    body=rng.choice(REPLIES),
                    reply_to=last_id if rng.random() < 0.4 else None,
                )
                await _backdate(session, post.id, when)
                last_id = post.id
                count += 1
            await session.execute(
                update(Thread)
                .where(Thread.id == thread.id)
                .values(created_at=start, last_post_at=when)
            )
            count += 1
    return count


async def _backdate(session, post_id: int, when) -> None:
    await session.execute(update(Post).where(Post.id == post_id).values(created_at=when))
