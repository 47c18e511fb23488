"""Every page and action through the ASGI app (Starlette's TestClient), on a database a real poll
filled: what is shown, what is escaped, what is refused, and feedback changing the next digest."""
from __future__ import annotations

import asyncio
import email
import email.policy
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

from starlette.testclient import TestClient
from web.conftest import HOSTILE_TITLE, fill

from monitor.cli import main
from monitor.config.models import WebUser
from monitor.mail.compose import queue_digests
from monitor.mail.outbox import send_due
from monitor.mail.transports import transport_for
from monitor.pipeline.poll import poll
from monitor.store import feedback, fingerprints
from monitor.web.app import create_app
from monitor.web.auth import hash_password


def csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def test_stories_show_clusters_with_highlights_and_escape_feed_text(site):
    r = site.client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    assert "消费金融公司增资至八十亿元" in html and "城商行加码" in html
    assert re.search(r"城商行加码<mark class=\"hit\">新市民</mark>信贷", html)
    assert "2 copies" in html and "金融早报" in html  # the reprint is a copy, not a second story
    assert html.count('class="story"') == 3
    # The hostile feed's markup is text at most, never markup; its javascript: link is no link.
    assert "<script" not in html and "<img" not in html and "onerror" not in html.replace("onerror=alert(1)&gt;", "")
    assert 'href="javascript:' not in html and "&lt;b&gt;农场" not in html.replace("&lt;b&gt;农场&lt;/b&gt;", "")
    assert "script-src 'none'" in r.headers["content-security-policy"]
    r = site.client.get("/?watch=消费金融")
    assert r.text.count('class="story"') == 1
    assert site.client.get("/?since=2020-13-01").status_code == 200  # a bad date is said, not a 500
    assert "Not a date" in site.client.get("/?since=2020-13-01").text


def test_story_page_explains_match_and_dedupe_and_copies_redirect_to_their_story(site):
    root, copy = site.ids["a1"], site.ids["b1"]
    r = site.client.get(f"/stories/{root}")
    assert r.status_code == 200
    assert "Why it is here" in r.text and "its terms are in the text." in r.text
    assert "first seen" in r.text and "金融早报" in r.text
    assert re.search(r"the same text|nearly the same text", r.text)
    r = site.client.get(f"/stories/{copy}", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/stories/{root}#item-{copy}"
    assert site.client.get("/stories/999999").status_code == 404


def test_search_folds_script_and_width_and_returns_stories(site):
    r = site.client.get("/search", params={"q": "消費金融"})  # traditional script
    assert r.status_code == 200
    assert "1 story" in r.text and "消费金融公司增资至八十亿元" in r.text
    assert "城商行加码" not in r.text
    r = site.client.get("/search", params={"q": "新市"})  # under three characters: the LIKE path
    assert "2 stories" in r.text
    r = site.client.get("/search", params={"q": "新市民 -城商行"})
    assert "1 story" in r.text and "城商行加码" not in r.text
    r = site.client.get("/search", params={"q": "(新市民"})
    assert r.status_code == 400 and 'class="error"' in r.text


def test_feeds_watches_emails_and_exports(site):
    r = site.client.get("/feeds")
    assert r.status_code == 200 and "working" in r.text and "&lt;b&gt;" not in r.text
    r = site.client.get("/watches")
    assert r.status_code == 200 and "新市民" in r.text and "<svg" in r.text
    assert re.search(r'<text[^>]*class="d">\d+</text>', r.text)  # visible day labels
    atom = re.search(r'href="(/watches/[^"]+\.atom\?token=[^"]+)"', r.text).group(1).replace("&amp;", "&")
    feed = site.client.get(atom)
    assert feed.status_code == 200 and "<entry>" in feed.text and "application/atom+xml" in feed.headers["content-type"]
    assert site.client.get(atom[:-3] + "xxx").status_code == 404
    csv = site.client.get("/stories.csv")
    assert csv.text.startswith("\ufeffstory,title") and "消费金融公司增资至八十亿元" in csv.text
    lines = site.client.get("/stories.json?watch=新市民").text.splitlines()
    assert len(lines) == 2
    assert site.client.get("/emails").status_code == 200


def test_not_relevant_needs_csrf_and_leaves_the_next_digest(site, tmp_path, capsys):
    # 消费金融 alerts as it happens; 新市民 goes into the digest.
    root = site.ids["a2"]
    r = site.client.post(f"/stories/{root}/not-relevant", data={"watch": "新市民"})
    assert r.status_code == 403
    token = csrf(site.client.get("/").text)
    r = site.client.post(f"/stories/{root}/not-relevant", data={"watch": "新市民", "csrf": "x" + token})
    assert r.status_code == 403
    preview = tmp_path / "before.html"
    assert main(["--config", str(site.path), "digest", "--preview", str(preview)]) == 0
    assert "城商行加码" in preview.read_text(encoding="utf-8")
    r = site.client.post(f"/stories/{root}/not-relevant", data={"watch": "新市民", "csrf": token},
                         follow_redirects=False)
    assert r.status_code == 303
    assert "城商行加码" not in site.client.get("/?watch=新市民").text
    story = site.client.get(f"/stories/{root}").text
    assert "took it out of 新市民" in story and "Put back into 新市民" in story
    capsys.readouterr()
    assert main(["--config", str(site.path), "explain", str(root)]) == 0
    assert re.search(r"not relevant to 新市民: said by local \(testclient\) on \d{4}-", capsys.readouterr().out)
    after = tmp_path / "after.html"
    assert main(["--config", str(site.path), "digest", "--preview", str(after)]) == 0
    assert "城商行加码" not in after.read_text(encoding="utf-8")
    site.client.post(f"/stories/{root}/not-relevant", data={"watch": "新市民", "csrf": token, "undo": "1"})
    assert "城商行加码" in site.client.get("/?watch=新市民").text


def test_not_same_splits_a_story_and_same_joins_it_back(site):
    root, copy = site.ids["a1"], site.ids["b1"]
    token = csrf(site.client.get("/").text)
    r = site.client.post(f"/items/{copy}/not-same", data={"csrf": token}, follow_redirects=False)
    assert r.status_code == 303
    assert site.client.get(f"/stories/{copy}", follow_redirects=False).status_code == 200  # its own story now
    assert site.client.get("/").text.count('class="story"') == 4
    r = site.client.post(f"/items/{copy}/same", data={"csrf": token, "other": f"http://testserver/stories/{root}"},
                         follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/stories/{root}"
    page = site.client.get(f"/stories/{root}").text
    assert "a reader said it is the same story" in page and site.client.get("/").text.count('class="story"') == 3


def test_one_click_unsubscribe_accepts_a_post_and_refuses_a_changed_signature(site):
    config, db = site.config, site.db
    now = datetime.now(UTC)
    assert len(queue_digests(db, config, now=now, manual=True)) == 1
    send_due(db, config, transport_for(config), now=now)
    [eml] = config.mail.outbox.glob("*.eml")
    msg = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click" and msg["List-Id"]
    url = msg["List-Unsubscribe"].strip("<>")
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    bad = url.replace(query["s"][0], query["s"][0][:-2] + ("AA" if not query["s"][0].endswith("AA") else "BB"))
    assert site.client.post(bad.replace("http://testserver", ""), data={"List-Unsubscribe": "One-Click"}).status_code == 403
    path = url.replace("http://testserver", "")
    confirm = site.client.get(path)  # a link scanner's GET changes nothing
    assert confirm.status_code == 200 and "<form" in confirm.text
    r = site.client.post(path, data={"List-Unsubscribe": "One-Click"})
    assert r.status_code == 200
    # The view-in-browser link opens the copy as sent, in a sandbox.
    html = msg.get_body(("html",)).get_content()
    view = re.search(r'href="(http://testserver/m/[^"]+)"', html).group(1).replace("&amp;", "&")
    copy = site.client.get(view.replace("http://testserver", ""))
    assert copy.status_code == 200 and "sandbox" in copy.headers["content-security-policy"]
    assert site.client.get(view.replace("http://testserver", "") + "x").status_code == 403
    # Nothing more for that person, even with new stories in the next period.
    later = now + timedelta(days=1)
    assert queue_digests(db, config, now=later, manual=True) == []


def test_sign_in_required_off_loopback_with_throttle(make_config, feed_server, monkeypatch):
    config, db, _path = fill(make_config, feed_server)
    config.web.users = [WebUser(name="li", password_hash=hash_password("correct horse"))]
    with TestClient(create_app(config, db, host="0.0.0.0"), base_url="http://testserver") as client:
        r = client.get("/search?q=x", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/signin?next=%2Fsearch%3Fq%3Dx"
        form = client.get("/signin")
        assert form.status_code == 200
        token = csrf(form.text)
        assert client.post("/signin", data={"name": "li", "password": "x", "csrf": token}).status_code == 401
        r = client.post("/signin", data={"name": "li", "password": "correct horse", "csrf": token, "next": "/feeds"},
                        follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/feeds"
        assert client.get("/feeds").status_code == 200
    with TestClient(create_app(config, db, host="0.0.0.0"), base_url="http://testserver") as other:
        token = csrf(other.get("/signin").text)
        codes = [other.post("/signin", data={"name": "li", "password": "bad", "csrf": token}).status_code
                 for _ in range(6)]
        assert codes == [401] * 5 + [429]
    db.dispose()


def test_hostile_title_never_reaches_a_page_as_markup(site):
    hostile = site.ids["h1"]
    page = site.client.get(f"/stories/{hostile}").text
    assert "<script" not in page and "<img" not in page and HOSTILE_TITLE not in page
    assert 'href="javascript:' not in page



def test_not_same_survives_the_article_being_decided_again(site, feed_server):
    """The copy's text changes (a feed corrects it): it is deduped anew, and the reader's verdict
    still keeps it out of the story the check would put it in."""
    from helpers.feedserver import Response
    from web.conftest import STORY, rss

    copy = site.ids["b1"]
    token = csrf(site.client.get("/").text)
    site.client.post(f"/items/{copy}/not-same", data={"csrf": token})
    corrected = [("b1", "消费金融公司增资至八十亿元 - 金融早报", "https://b.example.org/9.html", STORY + "（更正）")]
    feed_server.routes["/b.xml"] = Response(200, rss("金融早报", corrected), {"Content-Type": "application/rss+xml"})
    with _statements(site.db) as seen:
        asyncio.run(poll(site.config, site.db, owner="test", names=["b"], due_only=False))
    with site.db.session() as s:
        assert feedback.root_of(s, copy) == copy
        assert fingerprints.is_indexed(s, copy)  # it was decided again
    assert site.client.get("/").text.count('class="story"') == 4
    assert any("cluster_feedback" in sql for sql in seen)  # the verdicts were read for it
    # A new copy of the story: stored in the poll's own transaction, it can have no verdict, and
    # the poll does not look for one (it joins the story as any copy does).
    more = [*corrected, ("b2", "消费金融公司增资至八十亿元", "https://b.example.org/10.html", STORY)]
    feed_server.routes["/b.xml"] = Response(200, rss("金融早报", more), {"Content-Type": "application/rss+xml"})
    with _statements(site.db) as seen:
        results = asyncio.run(poll(site.config, site.db, owner="test", names=["b"], due_only=False))
    assert results[0].new == 1 and results[0].duplicates == 1
    assert not any("cluster_feedback" in sql for sql in seen)


@contextmanager
def _statements(db) -> Iterator[list[str]]:
    """The SQL statements run on ``db`` within the block."""
    from sqlalchemy import event

    seen: list[str] = []

    def record(_conn, _cursor, statement, *_args) -> None:
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def test_a_chat_message_is_viewable_as_the_text_it_was(make_config, feed_server):
    from starlette.testclient import TestClient
    from web.conftest import fill

    from monitor.mail.compose import queue_digests
    from monitor.store.models import Delivery
    from monitor.web.app import create_app

    config, db, _ = fill(make_config, feed_server, digest={"recipients": ["analyst@example.com"],
                                                           "notify": ["json://127.0.0.1:9/hook"]})
    queue_digests(db, config, manual=True)
    with db.session() as s:
        (chat,) = [d.id for d in s.query(Delivery) if d.recipients.startswith("json://")]
    with TestClient(create_app(config, db), base_url="http://testserver") as client:
        body = client.get(f"/emails/{chat}/body")
    assert body.status_code == 200 and "<pre" in body.text and "**新市民**" in body.text
    assert "<script>" not in body.text  # the feed's markup escaped in the copy too
    db.dispose()
