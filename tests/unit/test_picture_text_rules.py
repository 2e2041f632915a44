"""The rules for text read in pictures (`moderation.pictures`), on lines as OCR gives them."""

from __future__ import annotations

from moderation.pictures import find_picture_text, undo_confusions, verdict
from moderation.text_filter import Keyword, TextFilter

SCANNER = TextFilter([Keyword("刷单", "block", "spam_ads")])


def line(text: str, top: int = 10) -> dict:
    return {
        "text": text,
        "score": 0.99,
        "box": [[5, top], [205, top], [205, top + 30], [5, top + 30]],
    }


def kinds(lines: list[dict], *, new_account: bool = False) -> list[str]:
    found = find_picture_text(7, lines, new_account=new_account, scanner=SCANNER)
    return sorted(f["kind"] for f in found)


def test_contact_details_and_keywords_are_found_with_their_line_and_box() -> None:
    (found,) = find_picture_text(
        7, [line("加微信 shop_8866 领券")], new_account=False, scanner=SCANNER
    )
    assert found["image_id"] == 7 and found["kind"] == "contact"
    assert "shop_8866" in found["text"] and found["line"] == "加微信 shop_8866 领券"
    assert found["box"] == [[5, 10], [205, 10], [205, 40], [5, 40]]
    assert kinds([line("电话13812345678")]) == ["phone"]
    assert kinds([line("QQ 384756291")]) == ["contact"]
    assert kinds([line("招聘刷单 日赚300")]) == ["keyword"]


def test_a_keyword_that_blocks_in_text_only_holds_in_a_picture() -> None:
    found = find_picture_text(1, [line("招聘刷单")], new_account=True, scanner=SCANNER)
    screening = verdict(found)
    assert screening.verdict == "review" and screening.category == "spam_ads"
    assert screening.evidence == {"picture_text": found}
    assert "picture_text" in screening.kinds


def test_links_count_only_from_new_accounts() -> None:
    assert kinds([line("官网 www.camp-gear.com")]) == []
    assert kinds([line("官网 www.camp-gear.com")], new_account=True) == ["link"]


def test_ordinary_text_is_clean() -> None:
    ordinary = [
        "宫保鸡丁 36元",
        "营业时间 9:00-21:00",
        "条码 6901234567892",
        "订单号 20260501123456789",
        "iPhone 15 Pro Max 256GB",
        "2026-05-01 14:30",
        "Room 1208",
    ]
    found = find_picture_text(1, [line(t) for t in ordinary], new_account=True, scanner=SCANNER)
    assert verdict(found).verdict is None


def test_letters_read_for_digits_are_undone_inside_long_digit_runs() -> None:
    assert undo_confusions("电话138O0l38000") == "电话13800138000"
    assert kinds([line("电话 138O0l38000")]) == ["phone"]
    assert undo_confusions("Room 1208 Gate B12") == "Room 1208 Gate B12"  # too few digits


def test_a_contact_split_over_two_lines_is_found_on_the_pair() -> None:
    lines = [line("扫码或加微信", 10), line("shop_8866", 60)]
    (found,) = find_picture_text(3, lines, new_account=False, scanner=SCANNER)
    assert found["kind"] == "contact" and found["line"] == "扫码或加微信 shop_8866"
    assert found["box"] == [[5, 10], [205, 10], [205, 90], [5, 90]]  # around both lines
