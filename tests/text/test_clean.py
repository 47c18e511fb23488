"""Feed text made safe before anything else sees it."""
from monitor.text.clean import clean_line, clean_text
from monitor.text.normalize import match_form


def test_lone_surrogates_are_removed():
    # json.loads('"\\ud800"') gives one; UTF-8 encoders (SQLite's, PostgreSQL's, OpenCC's) refuse it.
    raw = "消费\ud800金融\udfff"
    assert clean_text(raw) == "消费金融"
    assert clean_line(raw + "\n标题") == "消费金融 标题"
    assert clean_text(raw).encode("utf-8")


def test_match_form_takes_a_lone_surrogate_without_failing():
    assert match_form("消费\ud800金融") == "消费\ufffd金融"
