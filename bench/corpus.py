"""A deterministic corpus for the search benchmark: communities, members, threads, posts and
library entries with Zipf-distributed words, plus a query set, and a loader into a database.

    .venv/bin/python -m bench.corpus --data-dir var/bench    # generate and load (SQLite)
"""

from __future__ import annotations

import argparse
import itertools
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

SEED = 20251126
START = datetime(2023, 1, 1, tzinfo=UTC)
SPAN_DAYS = 3 * 365

# The most frequent English words come first, as in real text (the analyzer drops many).
STOPWORDS = (  # noqa: SIM905
    "the of and to a in is that for it as was with be by on not he i this are or his from at "
    "which but have an they you were her she there been one all we their has would when if so "
    "no will can more about also into other than some what them our its only could may these "
    "two then do any most such after over new"
).split()
DOMAIN = (  # noqa: SIM905
    "library catalog catalogue cataloging metadata record records archive archives collection "
    "collections patron patrons reference circulation digital digitization preservation access "
    "database databases subject heading headings authority authorities bibliographic citation "
    "journal journals serial serials periodical book books ebook ebooks vendor vendors license "
    "licensing budget acquisition acquisitions weeding shelf shelving branch branches community "
    "outreach program programs literacy storytime youth teen teens adult adults senior seniors "
    "volunteer volunteers board trustees policy policies privacy censorship challenge "
    "challenged intellectual freedom advocacy funding grant grants assessment survey statistics "
    "report reports workflow training workshop webinar conference session sessions member "
    "members committee chair election ballot bylaws standard standards marc rda bibframe linked "
    "data schema vocabulary ontology identifier identifiers isbn issn doi orcid repository "
    "repositories institutional open scholarly communication copyright fair use licensing "
    "consortium network interlibrary loan loans discovery layer search interface usability "
    "accessibility screen reader readers braille audio audiobook podcast video streaming media "
    "makerspace printer laptop wifi hotspot lending technology software hardware migration "
    "upgrade server cloud backup security password authentication proxy ezproxy analytics "
    "dashboard inventory barcode rfid label labels spine call number dewey classification "
    "congress lcsh genre fiction nonfiction mystery romance science history biography poetry "
    "graphic novels comics manga picture textbook textbooks curriculum instruction information "
    "literacy research guide guides tutorial faculty student students school academic public "
    "special law medical health map maps manuscript manuscripts photograph photographs oral "
    "histories exhibit exhibition donor donation gift endowment staff staffing hiring salary "
    "union director manager librarian librarians archivist archivists curator technician "
    "assistant clerk page shelver schedule hours closure renovation building space furniture "
    "lighting parking signage wayfinding customer service desk chat email phone question "
    "questions answer answers feedback complaint complaints incident safety emergency pandemic "
    "remote hybrid virtual online deadline timeline agenda minutes motion vote approval draft "
    "revision proposal proposals template checklist spreadsheet workflow batch import export "
    "harvest crosswalk mapping normalization deduplication cleanup quality control error errors "
    "fix bug release version"
).split()
FIRST = (  # noqa: SIM905
    "Ada Alan Alice Amara Ana Andre Anika Ben Bianca Carlos Chen Chloe Dara David Diego Elena "
    "Eli Emma Farah Felix Fatima Grace Hana Hugo Ines Ivan Jada James Jin Jonas Kai Kamala Kofi "
    "Lars Layla Leo Lina Luca Maya Mateo Mei Mira Nadia Naomi Nia Noah Olga Omar Paula Pedro "
    "Priya Quinn Rafael Rania Ravi Rosa Ruth Sam Sara Sofia Tariq Tessa Theo Uma Vera Victor "
    "Wanda Wei Xavier Yara Yusuf Zane Zoe"
).split()
LAST = (  # noqa: SIM905
    "Abbott Adeyemi Alvarez Andersen Baker Banerjee Becker Bianchi Brooks Castillo Chen Cohen "
    "Costa Dubois Edwards Eriksen Farouk Fischer Garcia Goldberg Gupta Haddad Hansen Hernandez "
    "Hoffmann Ibrahim Ivanova Jansen Jensen Johnson Kaur Khan Kim Kowalski Larsen Lee Lopez "
    "Martin Meyer Moreau Murphy Nakamura Nguyen Novak Okafor Olsen Ortiz Park Patel Petrov "
    "Quintero Rossi Russo Sato Schmidt Silva Singh Smith Sorensen Tanaka Taylor Torres Ueda "
    "Vargas Wagner Walker Wang Weber Williams Wong Yamamoto Yilmaz Zhang Zimmermann"
).split()
ORGS = [
    "Public Library",
    "University Library",
    "County Library",
    "State Archives",
    "Historical Society",
    "Law Library",
    "Medical Library",
    "School District",
    "Museum",
    "College Library",
    "City Library",
]
PLACES = [
    "Chicago",
    "Denver",
    "Boston",
    "Austin",
    "Seattle",
    "Portland",
    "Atlanta",
    "Phoenix",
    "Madison",
    "Toledo",
    "Omaha",
    "Tucson",
    "Raleigh",
    "Albany",
    "Spokane",
    "Eugene",
    "Dayton",
    "Fresno",
    "Boise",
    "Durham",
]
SYLLABLES = (  # noqa: SIM905
    "ka lo mi ra te su ne vo pi da fe gu ri so ta ve ni mo le ba co du ge hi ja ku la ma no pe "
    "qui ro sa ti vu we xe yo za bri cle dra fro gla pla tri stro sne"
).split()


def _synthetic_words(rng: random.Random, count: int, taken: set[str]) -> list[str]:
    words: list[str] = []
    while len(words) < count:
        word = "".join(rng.choice(SYLLABLES) for _ in range(rng.choice((2, 3, 3, 4))))
        word += rng.choice(("", "", "n", "s", "r", "t", "l"))
        if word not in taken:
            taken.add(word)
            words.append(word)
    return words


class Vocabulary:
    """Words ranked by frequency; `sample(n)` draws n words with Zipf (s=1.05) weights."""

    def __init__(self, rng: random.Random, size: int = 40_000) -> None:
        taken = set(STOPWORDS) | set(DOMAIN)
        synthetic = _synthetic_words(rng, size - len(STOPWORDS) - len(DOMAIN), taken)
        # Domain words spread over ranks ~60..3000 among invented ones (medium-frequency mix).
        ranked: list[str] = list(STOPWORDS)
        domain = list(DOMAIN)
        rng.shuffle(domain)
        synthetic_iter = iter(synthetic)
        for i, word in enumerate(domain):
            ranked.append(word)
            ranked.extend(itertools.islice(synthetic_iter, 1 + i // 60))
        ranked.extend(synthetic_iter)
        self.words = ranked
        weights = [1.0 / (rank**1.05) for rank in range(1, len(ranked) + 1)]
        self.cum = list(itertools.accumulate(weights))
        self.rng = rng

    def sample(self, n: int) -> list[str]:
        return self.rng.choices(self.words, cum_weights=self.cum, k=n)

    def content_words(self) -> list[str]:
        """Words the analyzer keeps, most frequent first."""
        return [w for w in self.words if w not in STOPWORDS]


def _sentences(vocab: Vocabulary, rng: random.Random, words: int) -> str:
    out: list[str] = []
    left = words
    while left > 0:
        n = min(left, max(4, int(rng.gauss(14, 5))))
        sentence = vocab.sample(n)
        sentence[0] = sentence[0].capitalize()
        out.append(" ".join(sentence) + rng.choice((".", ".", ".", "?", "!")))
        left -= n
    return " ".join(out)


def _length(rng: random.Random, median: float, sigma: float, low: int, high: int) -> int:
    return max(low, min(high, int(rng.lognormvariate(math.log(median), sigma))))


@dataclass
class Corpus:
    seed: int
    communities: list[dict] = field(default_factory=list)
    members: list[dict] = field(default_factory=list)
    memberships: list[dict] = field(default_factory=list)
    threads: list[dict] = field(default_factory=list)
    posts: list[dict] = field(default_factory=list)
    entries: list[dict] = field(default_factory=list)
    queries: list[dict] = field(default_factory=list)

    @property
    def document_count(self) -> int:
        replies = sum(1 for p in self.posts if not p["first"] and p["status"] != "deleted")
        return len(self.threads) + replies + len(self.entries) + len(self.members)


def _when(rng: random.Random) -> datetime:
    return START + timedelta(seconds=rng.randrange(SPAN_DAYS * 86400))


def generate(
    seed: int = SEED,
    *,
    posts: int = 100_000,
    threads: int = 5_000,
    entries: int = 5_000,
    members: int = 50_000,
    communities: int = 50,
) -> Corpus:
    rng = random.Random(seed)
    vocab = Vocabulary(rng)
    corpus = Corpus(seed)
    content = vocab.content_words()

    for i in range(1, communities + 1):
        visibility = "private" if i % 10 == 0 else "closed" if i % 5 == 0 else "open"
        name_words = [content[rng.randrange(60, 600)] for _ in range(2)]
        corpus.communities.append(
            {
                "id": i,
                "slug": f"{name_words[0]}-{i}",
                "name": " ".join(w.capitalize() for w in name_words) + f" {i}",
                "description": _sentences(vocab, rng, _length(rng, 40, 0.5, 10, 200)),
                "visibility": visibility,
                "moderation": "none",
                "created_at": START,
            }
        )

    for i in range(1, members + 1):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        public = ["title", "organization", "location", "bio", "interests"]
        if rng.random() < 0.1:
            public.remove("organization")
        if rng.random() < 0.1:
            public.remove("bio")
        corpus.members.append(
            {
                "id": i,
                "username": f"{first}-{last}-{i}".lower(),
                "display_name": f"{first} {last}",
                "title": rng.choice(("Librarian", "Archivist", "Director", "Cataloger", "Curator"))
                + " "
                + rng.choice(("", "II", "of Collections", "for Youth Services", "of Metadata")),
                "organization": f"{rng.choice(PLACES)} {rng.choice(ORGS)}",
                "location": rng.choice(PLACES),
                "bio": _sentences(vocab, rng, _length(rng, 25, 0.7, 0, 200))
                if rng.random() < 0.6
                else "",
                "interests": ", ".join(rng.sample(DOMAIN, rng.randrange(0, 5))),
                "public_fields": public,
                "listed": rng.random() > 0.05,
                "created_at": _when(rng),
            }
        )

    # Each community has a few hundred members; authors are drawn from them.
    community_members: dict[int, list[int]] = {}
    for community in corpus.communities:
        chosen = rng.sample(range(1, members + 1), min(members, 400))
        community_members[community["id"]] = chosen
        for n, user_id in enumerate(chosen):
            role = "owner" if n == 0 else "moderator" if n < 3 else "member"
            corpus.memberships.append(
                {"community_id": community["id"], "user_id": user_id, "role": role}
            )

    post_id = 0
    weights = [1.0 / (i + 1) ** 0.6 for i in range(communities)]
    per_thread = [1] * threads
    popularity = [rng.paretovariate(1.5) for _ in range(threads)]  # a long tail of replies
    for t in rng.choices(range(threads), weights=popularity, k=posts - threads):
        per_thread[t] += 1
    for t in range(1, threads + 1):
        community = rng.choices(corpus.communities, weights=weights)[0]
        authors = community_members[community["id"]]
        created = _when(rng)
        status = rng.choices(("published", "pending", "hidden"), (97, 2, 1))[0]
        thread = {
            "id": t,
            "community_id": community["id"],
            "author_id": rng.choice(authors),
            "title": " ".join(vocab.sample(_length(rng, 7, 0.35, 3, 16))).capitalize(),
            "status": status,
            "created_at": created,
        }
        when = created
        for n in range(per_thread[t - 1]):
            post_id += 1
            when = when + timedelta(minutes=rng.randrange(5, 3000))
            first = n == 0
            post_status = (
                status
                if first
                else rng.choices(("published", "pending", "hidden", "deleted"), (97, 1.5, 1, 0.5))[
                    0
                ]
            )
            corpus.posts.append(
                {
                    "id": post_id,
                    "thread_id": t,
                    "community_id": community["id"],
                    "author_id": thread["author_id"] if first else rng.choice(authors),
                    "body": _sentences(vocab, rng, _length(rng, 60, 0.8, 3, 1500)),
                    "status": post_status,
                    "created_at": created if first else when,
                    "first": first,
                }
            )
            if first:
                thread["first_post_id"] = post_id
        thread["last_post_at"] = when
        thread["post_count"] = per_thread[t - 1]
        corpus.threads.append(thread)

    for e in range(1, entries + 1):
        community = rng.choices(corpus.communities, weights=weights)[0]
        title_words = vocab.sample(_length(rng, 5, 0.35, 2, 12))
        files = []
        for f in range(rng.choice((1, 1, 1, 2, 3))):
            stem = "-".join(w for w in title_words[:3] if w.isalnum()) or f"document-{e}"
            ext = rng.choice(("pdf", "pdf", "docx", "txt", "md"))
            files.append(
                {
                    "filename": f"{stem}-{f + 1}.{ext}",
                    "text": _sentences(vocab, rng, _length(rng, 1200, 0.7, 50, 12_000)),
                }
            )
        corpus.entries.append(
            {
                "id": e,
                "community_id": community["id"],
                "author_id": rng.choice(community_members[community["id"]]),
                "title": " ".join(title_words).capitalize(),
                "description": _sentences(vocab, rng, _length(rng, 30, 0.6, 0, 300)),
                "tags": sorted(set(rng.sample(DOMAIN[:120], rng.randrange(0, 4)))),
                "files": files,
                "status": "published",
                "created_at": _when(rng),
            }
        )

    corpus.queries = make_queries(corpus, vocab, rng)
    return corpus


def make_queries(corpus: Corpus, vocab: Vocabulary, rng: random.Random) -> list[dict]:
    """At least 50 queries: words by frequency band, phrases, filters and member names."""
    words = vocab.content_words()
    domain = [w for w in words if w in set(DOMAIN)]
    queries: list[dict] = []
    for w in words[:12]:
        queries.append({"kind": "word-high", "q": w})
    for w in domain[20:32]:
        queries.append({"kind": "word-medium", "q": w})
    for w in words[3000:30000:2700]:
        queries.append({"kind": "word-low", "q": w})
    stop = set(STOPWORDS)
    while sum(q["kind"] == "phrase" for q in queries) < 10:
        body = [w.strip(".?!").lower() for w in rng.choice(corpus.posts)["body"].split()]
        size = rng.choice((2, 3))
        start = rng.randrange(max(1, len(body) - size))
        phrase = body[start : start + size]
        if len(phrase) == size and not stop & set(phrase):
            queries.append({"kind": "phrase", "q": '"' + " ".join(phrase) + '"'})
    slug = corpus.communities[0]["slug"]
    author = corpus.members[corpus.posts[7]["author_id"] - 1]["username"]
    queries += [
        {"kind": "filter", "q": f"{domain[3]} type:entry"},
        {"kind": "filter", "q": f"{domain[5]} in:{slug}"},
        {"kind": "filter", "q": f"author:{author}"},
        {"kind": "filter", "q": f"{domain[8]} after:2025-01-01"},
        {"kind": "filter", "q": f"{domain[2]} -{domain[4]}"},
        {"kind": "filter", "q": f"{domain[1]} OR {domain[9]}"},
        {"kind": "filter", "q": f"tag:{DOMAIN[3]} {domain[6]}"},
        {"kind": "filter", "q": f"{domain[10][:5]}*"},
        {"kind": "filter", "q": f"{domain[11]} type:thread before:2024-06-01"},
        {"kind": "filter", "q": f"{domain[0]} {domain[12]} type:post"},
    ]
    for member in rng.sample(corpus.members, 8):
        queries.append({"kind": "member", "q": member["display_name"]})
    return queries


# Loading -------------------------------------------------------------------------------------


def _batches(rows: Iterator[dict] | list[dict], size: int = 5_000) -> Iterator[list[dict]]:
    iterator = iter(rows)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


def load(corpus: Corpus, database_url: str, *, password_hash: str) -> None:
    """Insert the whole corpus with Core executemany (not through the services: speed).

    SQLite through the standard library driver; PostgreSQL through asyncpg (the driver the
    app uses; no psycopg needed), the same statements run with `run_sync`.
    """
    if database_url.startswith("postgresql"):
        import asyncio

        asyncio.run(_load_async(corpus, database_url, password_hash=password_hash))
        return
    from sqlalchemy import create_engine

    engine = create_engine(database_url.replace("+aiosqlite", ""))
    with engine.begin() as conn:
        _load_rows(conn, corpus, password_hash)
    engine.dispose()


async def _load_async(corpus: Corpus, database_url: str, *, password_hash: str) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    url = database_url.replace("postgresql://", "postgresql+asyncpg://", 1)
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_load_rows, corpus, password_hash)
    finally:
        await engine.dispose()


def _load_rows(conn, corpus: Corpus, password_hash: str) -> None:
    from sqlalchemy import insert

    from connect.accounts.models import User
    from connect.boards.models import Post, Thread
    from connect.communities.models import Community, Membership
    from connect.markup import render
    from connect.members.models import Profile

    for batch in _batches(corpus.members):
        conn.execute(
            insert(User),
            [
                {
                    "id": m["id"],
                    "username": m["username"],
                    "email": f"{m['username']}@bench.example",
                    "password_hash": password_hash,
                    "display_name": m["display_name"],
                    "site_role": "admin" if m["id"] == 1 else "member",
                    "created_at": m["created_at"],
                }
                for m in batch
            ],
        )
        conn.execute(
            insert(Profile),
            [
                {
                    "user_id": m["id"],
                    "title": m["title"].strip(),
                    "organization": m["organization"],
                    "location": m["location"],
                    "bio": m["bio"],
                    "interests": m["interests"],
                    "public_fields": m["public_fields"],
                    "listed": m["listed"],
                    "preferences": {},
                }
                for m in batch
            ],
        )
    conn.execute(
        insert(Community),
        [{**c, "created_by_id": 1, "member_count": 400} for c in corpus.communities],
    )
    for batch in _batches(corpus.memberships):
        conn.execute(insert(Membership), [{**m, "created_at": START} for m in batch])
    thread_rows = [
        {
            k: t[k]
            for k in (
                "id",
                "community_id",
                "author_id",
                "title",
                "status",
                "created_at",
                "last_post_at",
                "post_count",
                "first_post_id",
            )
        }
        for t in corpus.threads
    ]
    for batch in _batches(thread_rows):
        conn.execute(insert(Thread), batch)
    for batch in _batches(corpus.posts):
        conn.execute(
            insert(Post),
            [
                {
                    "id": p["id"],
                    "thread_id": p["thread_id"],
                    "community_id": p["community_id"],
                    "author_id": p["author_id"],
                    "body": p["body"],
                    "html": render(p["body"]) if p["id"] % 50 == 0 else f"<p>{p['body']}</p>",
                    "status": p["status"],
                    "created_at": p["created_at"],
                }
                for p in batch
            ],
        )
    _load_entries(conn, corpus)


def _load_entries(conn, corpus: Corpus) -> None:
    """Library entries, their files' current versions and extracted texts."""
    import hashlib

    from sqlalchemy import insert

    from connect.library.models import Entry, FileText, FileVersion, LibraryFile

    file_id = 0
    for batch in _batches(corpus.entries, 1_000):
        entries, files, versions, texts = [], [], [], []
        for e in batch:
            entries.append(
                {
                    k: e[k]
                    for k in (
                        "id",
                        "community_id",
                        "author_id",
                        "title",
                        "description",
                        "tags",
                        "status",
                        "created_at",
                    )
                }
                | {"updated_at": e["created_at"], "html": ""}
            )
            for position, f in enumerate(e["files"]):
                file_id += 1
                data = f["text"].encode()
                files.append(
                    {
                        "id": file_id,
                        "entry_id": e["id"],
                        "position": position,
                        "filename": f["filename"],
                        "current_version": 1,
                        "created_at": e["created_at"],
                    }
                )
                versions.append(
                    {
                        "id": file_id,
                        "file_id": file_id,
                        "version": 1,
                        "sha256": hashlib.sha256(data).hexdigest(),
                        "size": len(data),
                        "content_type": "text/plain",
                        "kind": "text",
                        "filename": f["filename"],
                        "created_at": e["created_at"],
                    }
                )
                texts.append(
                    {
                        "version_id": file_id,
                        "status": "ok",
                        "text": f["text"],
                        "updated_at": e["created_at"],
                    }
                )
        conn.execute(insert(Entry), entries)
        conn.execute(insert(LibraryFile), files)
        conn.execute(insert(FileVersion), versions)
        conn.execute(insert(FileText), texts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="var/bench")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()
    corpus = generate(args.seed)
    print(
        f"{len(corpus.posts)} posts, {len(corpus.threads)} threads, {len(corpus.entries)} entries, "
        f"{len(corpus.members)} members, {len(corpus.queries)} queries"
    )
    for q in corpus.queries:
        print(f"  {q['kind']:12} {q['q']}")
    _ = Path(args.data_dir)


if __name__ == "__main__":
    main()
