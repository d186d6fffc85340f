"""Markdown to safe HTML: CommonMark plus tables and autolinks, raw HTML off, then nh3.

Mentions (@username) become profile links; the caller decides who may be notified.
"""

from __future__ import annotations

import re
from functools import lru_cache

import nh3
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.rules_core import StateCore
from markdown_it.token import Token

from connect.errors import Invalid

MENTION_RE = re.compile(r"(?<![\w@/.])@([a-z0-9_-]{2,40})\b")

ALLOWED_TAGS = {
    "a", "p", "br", "hr", "strong", "em", "del", "s", "code", "pre", "blockquote",
    "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6",
    "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title", "class"},
    "ol": {"start"},
    "th": {"style"},
    "td": {"style"},
    "code": {"class"},
}
# Table cells keep only the exact alignments Markdown writes: filtering style properties
# by name alone would let values such as "text-align:expression(...)" through.
CELL_ALIGNMENTS = {"text-align:left", "text-align:right", "text-align:center"}
URL_SCHEMES = {"http", "https", "mailto"}
LINK_REL = "nofollow ugc noopener"
# The longest Markdown a post or a private message may have.
BODY_MAX = 65_536


def _mentions_rule(state: StateCore) -> None:
    """Turn @username in plain text (not in links or code) into links to profiles."""
    for block in state.tokens:
        if block.type != "inline" or not block.children:
            continue
        children: list[Token] = []
        depth = 0
        for token in block.children:
            if token.type == "link_open":
                depth += 1
            elif token.type == "link_close":
                depth -= 1
            if token.type != "text" or depth > 0 or "@" not in token.content:
                children.append(token)
                continue
            position = 0
            for match in MENTION_RE.finditer(token.content):
                if match.start() > position:
                    children.append(_text(token.content[position : match.start()]))
                link = Token("link_open", "a", 1)
                link.attrs = {"href": f"/members/{match.group(1)}", "class": "mention"}
                children.extend([link, _text(match.group(0)), Token("link_close", "a", -1)])
                position = match.end()
            if position < len(token.content):
                children.append(_text(token.content[position:]))
        block.children = children


def _text(content: str) -> Token:
    token = Token("text", "", 0)
    token.content = content
    return token


def _image_as_link(renderer, tokens, idx, options, env) -> str:
    """An image becomes a link to it, named by its alt text: remote images would tell their
    host who reads the post and when."""
    token = tokens[idx]
    src = escapeHtml(token.attrGet("src") or "")
    alt = renderer.renderInlineAsText(token.children or [], options, env)
    return f'<a href="{src}">{escapeHtml(alt) or src}</a>'


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": True, "typographer": False})
    md.enable(["table", "strikethrough", "linkify"])
    md.add_render_rule("image", _image_as_link)
    md.core.ruler.push("mentions", _mentions_rule)
    return md


def sanitize(html: str) -> str:
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes={k: v - {"style"} for k, v in ALLOWED_ATTRIBUTES.items() if v - {"style"}},
        tag_attribute_values={"th": {"style": CELL_ALIGNMENTS}, "td": {"style": CELL_ALIGNMENTS}},
        url_schemes=URL_SCHEMES,
        link_rel=LINK_REL,
        strip_comments=True,
    )


def render(markdown: str) -> str:
    """Markdown source to sanitized HTML."""
    return sanitize(_parser().render(markdown))


def mentions(markdown: str) -> list[str]:
    """Usernames mentioned in plain text, in order, without repeats: those who are told.
    Code and quotes are ignored (quoting a post must not call its mentions again)."""
    names: list[str] = []
    quoted = 0
    for block in _parser().parse(markdown):
        if block.type == "blockquote_open":
            quoted += 1
        elif block.type == "blockquote_close":
            quoted -= 1
        if quoted:
            continue
        for token in block.children or []:
            if token.type == "link_open" and token.attrs.get("class") == "mention":
                name = str(token.attrs["href"]).rsplit("/", 1)[-1]
                if name not in names:
                    names.append(name)
    return names


def excerpt(markdown: str, length: int = 200) -> str:
    """Plain text of the first part of a post, for lists, emails and notifications."""
    if len(markdown) <= EXCERPT_KEPT_CHARS:
        return _kept_excerpt(markdown, length)
    return _excerpt(markdown, length)


# Feeds and lists show the same posts' excerpts again and again, and rendering one costs
# ~0.25 ms: the last EXCERPTS_KEPT of posts up to EXCERPT_KEPT_CHARS long are remembered
# (keyed by the text itself, so an edit is a new key). At most ~40 MB.
EXCERPTS_KEPT = 4096
EXCERPT_KEPT_CHARS = 10_000


@lru_cache(maxsize=EXCERPTS_KEPT)
def _kept_excerpt(markdown: str, length: int) -> str:
    return _excerpt(markdown, length)


def _excerpt(markdown: str, length: int) -> str:
    return html_excerpt(_parser().render(markdown), length)


def html_excerpt(html: str, length: int = 200) -> str:
    """Plain text of the first part of sanitized HTML (a post as rendered): what readers
    see, without Markdown's marks, and with nothing left to render. Quotes use it."""
    text = re.sub(r"\s+", " ", _unescape(nh3.clean(html, tags=set()))).strip()
    if len(text) <= length:
        return text
    return text[: length - 1].rsplit(" ", 1)[0] + "…"


def plain_text(html: str) -> str:
    """The words of sanitized HTML (a post as rendered) without its tags: what readers see,
    with no Markdown marks stuck to words (`_word_`, `**word**`). The search index holds
    this, so its snippets show text as read."""
    text = _unescape(nh3.clean(html, tags=set()))
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _unescape(text: str) -> str:
    import html

    return html.unescape(text)


def one_line(text: str) -> str:
    """`text` as one line: any run of whitespace (line breaks, tabs, Unicode separators)
    becomes a single space. For names, titles and subjects, which also head emails."""
    return " ".join(text.split())


def clean_body(body, *, empty: str = "Write something first.") -> str:
    """A post's or message's Markdown as written (line ends made \n), or Invalid if it is
    empty or longer than BODY_MAX."""
    if not isinstance(body, str) or not body.strip():
        raise Invalid(empty, fields={"body": "Write a message."})
    body = body.replace("\r\n", "\n")
    if len(body) > BODY_MAX:
        raise Invalid(
            f"Messages are at most {BODY_MAX:,} characters; this one has {len(body):,}.",
            fields={"body": f"At most {BODY_MAX:,} characters."},
        )
    return body
