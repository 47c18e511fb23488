"""CLI tables line up when names are Chinese (two terminal cells per character)."""
from monitor.cli.output import cells, clip, pad


def test_wide_characters_take_two_cells():
    assert cells("新市民") == 6
    assert cells("abc") == 3
    assert cells("ＡＢ") == 4  # full-width Latin
    assert cells("google-news:新市民") == 18


def test_pad_reaches_the_same_column_for_any_script():
    names = ["people-finance", "google-news:新市民", "bing-news:消费金融", "消費金融"]
    assert {cells(pad(n, 24)) for n in names} == {24}


def test_clip_never_splits_a_wide_character_past_the_width():
    for width in range(1, 12):
        out = clip("很长很长很长很长很长很长", width)
        assert cells(out) <= width
        assert out.endswith("…")
    assert clip("short", 10) == "short"
