"""Portal boilerplate: credits cut where the pattern finds them."""
from __future__ import annotations

import pytest


@pytest.mark.parametrize("line", [
    "", "正文", "新市民金融服务（记者：张三）", "（记者：张三）正文（作者: 李四）正文", "正文 责任编辑：王五",
    "正文（来源：新华社）", "(编辑:钱七)(责编：赵六) 正文 编辑：孙八", "（（记者：张三））", "责编：赵六\n",
    "编辑：" + "长" * 13, "（记者：" + "长" * 21 + "）", "（记者：张三）" * 3 + "（来源：新华社）",
])
def test_credits_are_cut_as_the_pattern_cuts_them(line):
    """``_cut_credits`` tries the pattern only where a credit can start: it must cut exactly what
    ``sub`` over every position cuts."""
    from monitor.text.boilerplate import _CREDIT_TAIL, _cut_credits

    assert _cut_credits(line) == _CREDIT_TAIL.sub("", line)
