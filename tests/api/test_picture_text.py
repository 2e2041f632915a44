"""Text drawn in pictures (issue 20): read by the real OCR engine in the upload's job, screened
with the note, shown to moderators with its boxes, searchable with the note."""

from __future__ import annotations

import io
from datetime import timedelta

from PIL import Image, ImageDraw, ImageFont

FONT = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"


def picture(*lines: str, size: tuple[int, int] = (900, 600), angle: float = 0.0) -> bytes:
    """A JPEG with these lines drawn on a two-tone background (rotated by `angle`)."""
    image = Image.new("RGB", size, (236, 222, 200))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, size[1] // 2, size[0], size[1]), fill=(210, 230, 240))
    font = ImageFont.truetype(FONT, 44)
    for index, line in enumerate(lines):
        draw.text((60, 80 + index * 90), line, font=font, fill=(30, 30, 30))
    if angle:
        image = image.rotate(angle, expand=False, fillcolor=(236, 222, 200))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def upload(api, user, data, *, close=True):
    """Upload; then close the response as a WSGI server does once it has sent it, which
    (embedded mode) runs the picture's OCR job."""
    response = api.post(
        "/media/images",
        user,
        data={"file": (io.BytesIO(data), "photo.jpg")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.get_json()
    if close:
        response.close()
    return response.get_json()["id"]


def image_row(image_id):
    from app.core.extensions import db
    from app.media.models import Image as ImageRow

    return db.session.get(ImageRow, image_id, populate_existing=True)


def setup(api, *, author_age_days=30):
    """An author (30 days old: not a new account, so the note's own text is not filtered)
    and a moderator."""
    from app.accounts.models import User
    from app.core.extensions import db
    from app.core.models import utcnow

    api.register("author")
    api.register("mod")
    api.grant("mod", "moderator")
    user = db.session.get(User, api.users["author"]["id"])
    user.created_at = utcnow() - timedelta(days=author_age_days)
    db.session.commit()


def publish(api, title, image_id, body=""):
    payload = {"title": title, "body": body, "status": "published", "image_ids": [image_id]}
    return api.post("/notes", "author", json=payload).get_json()


def cases(api):
    return api.get("/moderation/cases", "mod").get_json()["items"]


def test_upload_reads_the_text_and_where_after_the_response(api, app):
    setup(api)
    response = api.post(
        "/media/images",
        "author",
        data={"file": (io.BytesIO(picture("宫保鸡丁 38元", "鱼香肉丝 32元")), "menu.jpg")},
        content_type="multipart/form-data",
    )
    image_id = response.get_json()["id"]
    assert image_row(image_id).text_read_at is None  # not while the response is being sent
    assert image_row(image_id).status == "ready"  # (the variants are made before, as ever)
    response.close()  # the server has sent it
    row = image_row(image_id)
    assert row.text_read_at is not None
    assert "宫保鸡丁" in row.text and "鱼香肉丝" in row.text
    first = next(line for line in row.text_lines if "宫保鸡丁" in line["text"])
    xs = [x for x, _ in first["box"]]
    ys = [y for _, y in first["box"]]
    assert 40 <= min(xs) <= 80 and 60 <= min(ys) <= 100 and max(xs) < 900 and max(ys) < 200


def test_a_wechat_id_in_a_picture_holds_the_note_with_the_words_and_their_box(api, app):
    setup(api)
    image_id = upload(api, "author", picture("春季新品到店", "加微信 sprout_8866 领券"))
    note = api.post(
        "/notes",
        "author",
        json={
            "title": "新品分享",
            "body": "今天去看了",
            "status": "published",
            "image_ids": [image_id],
        },
    ).get_json()
    assert note["status"] == "pending_review"
    assert api.get(f"/notes/{note['id']}").status_code == 404  # nobody else sees it
    (case,) = cases(api)
    assert case["target_id"] == note["id"] and case["reason_code"] == "spam_ads.evasion"
    (finding,) = case["evidence"]["picture_text"]
    assert finding["image_id"] == image_id and finding["kind"] == "contact"
    assert "sprout_8866" in finding["text"] and "sprout_8866" in finding["line"]
    xs = [x for x, _ in finding["box"]]
    assert len(finding["box"]) == 4 and min(xs) >= 40 and max(xs) <= 900


def test_a_clean_picture_is_not_held(api, app):
    setup(api)
    image_id = upload(api, "author", picture("手冲咖啡 ¥28", "营业时间 9:00-21:00"))
    note = publish(api, "咖啡店", image_id)
    assert note["status"] == "published"
    assert cases(api) == []


def test_text_read_after_publishing_holds_the_published_note_once(api, app):
    """The note is published before its picture's text is read; the job then holds it, and a
    second run of the job neither holds again nor opens a second case."""
    from app.core.extensions import db
    from app.media.jobs import read_picture_text

    setup(api)
    image_id = upload(api, "author", picture("电话 13812345678", "到店有礼"))
    row = image_row(image_id)
    row.text, row.text_lines, row.text_read_at = None, None, None  # as if not read yet
    db.session.commit()
    note = publish(api, "到店", image_id)
    assert note["status"] == "published"
    author = api.get(f"/users/{api.users['author']['id']}").get_json()
    assert author["note_count"] == 1
    read_picture_text(image_id)
    db.session.expire_all()
    assert api.get(f"/notes/{note['id']}", "author").get_json()["status"] == "pending_review"
    assert api.get(f"/notes/{note['id']}").status_code == 404
    assert api.get(f"/users/{api.users['author']['id']}").get_json()["note_count"] == 0
    (case,) = cases(api)
    assert [f["kind"] for f in case["evidence"]["picture_text"]] == ["phone"]
    read_picture_text(image_id)  # a retried job: the text is already read
    row = image_row(image_id)
    row.text_read_at = None  # even a job that reads again finds the note no longer published
    db.session.commit()
    read_picture_text(image_id)
    assert len(cases(api)) == 1
    assert api.get(f"/users/{api.users['author']['id']}").get_json()["note_count"] == 0


def test_search_finds_a_note_by_its_pictures_text(api, app):
    setup(api)
    image_id = upload(api, "author", picture("今日菜单", "酸菜鱼 68元", "毛血旺 48元"))
    note = api.post(
        "/notes",
        "author",
        json={"title": "周末小馆", "status": "published", "image_ids": [image_id]},
    ).get_json()
    assert note["status"] == "published"
    found = api.get("/search/notes", query_string={"q": "酸菜鱼"}).get_json()["items"]
    assert [item["id"] for item in found] == [note["id"]]


def test_official_accounts_pictures_are_not_screened(api, app):
    from app.accounts.models import User
    from app.core.extensions import db

    setup(api)
    db.session.get(User, api.users["author"]["id"]).official = True
    db.session.commit()
    image_id = upload(api, "author", picture("客服微信 sprout_help01"))
    note = api.post(
        "/notes",
        "author",
        json={"title": "联系我们", "status": "published", "image_ids": [image_id]},
    ).get_json()
    assert note["status"] == "published"
    assert cases(api) == []


def test_links_in_pictures_count_only_from_new_accounts(api, app):
    from app.accounts.models import User
    from app.core.extensions import db
    from app.core.models import utcnow

    setup(api)
    image_id = upload(api, "author", picture("官网 www.camp-gear.com"))
    note = publish(api, "装备", image_id)
    assert note["status"] == "published"
    db.session.get(User, api.users["author"]["id"]).created_at = utcnow() - timedelta(days=1)
    db.session.commit()
    second = upload(api, "author", picture("官网 www.camp-gear.com"))
    held = publish(api, "装备二", second)
    assert held["status"] == "pending_review"
    (case,) = cases(api)
    assert case["reason_code"] == "spam_ads.deceptive_links"


def test_the_console_case_page_shows_the_words_found_and_where(api, app):
    from tests.api.console_client import Console

    setup(api)
    image_id = upload(api, "author", picture("到店咨询", "vx: sprout_8866"))
    note = publish(api, "到店", image_id)
    assert note["status"] == "pending_review"
    (case,) = cases(api)
    moderator = Console(app.test_client())
    assert moderator.sign_in("mod").status_code == 303
    page = moderator.get(f"/console/moderation/cases/{case['id']}").text
    (finding,) = case["evidence"]["picture_text"]
    points = " ".join(f"{x},{y}" for x, y in finding["box"])
    assert 'id="h-picture-text"' in page and f'data-image-id="{image_id}"' in page
    assert f'<polygon class="found" points="{points}">' in page  # the box over the picture
    assert "sprout_8866" in page and "<svg viewBox=" in page


def test_a_note_published_in_the_instant_its_picture_is_read_is_still_screened(
    api, app, monkeypatch
):
    """The race both paths miss alone: the note is published while its picture is unread,
    and the OCR job's own look for notes showing it ran before the note committed (here: no
    listener). The note's own job, retried until the picture is read, holds it once."""
    import pytest
    from sqlalchemy import select

    from app.core.extensions import db
    from app.core.jobs.models import OutboxJob
    from app.media.jobs import _TEXT_READ, read_picture_text
    from app.notes.services.notes import PicturesNotReadYet, screen_pictures_once_read

    setup(api)
    image_id = upload(api, "author", picture("加微信 race_7788 拿货", "新品"), close=False)
    assert image_row(image_id).text_read_at is None
    note = publish(api, "新品到了", image_id)
    assert note["status"] == "published"
    pending = db.session.scalars(
        select(OutboxJob).where(OutboxJob.function.like("%screen_pictures_once_read"))
    ).all()
    assert len(pending) == 1 and pending[0].state == "pending"  # failed inline: not read yet
    with pytest.raises(PicturesNotReadYet):
        screen_pictures_once_read(note["id"])

    monkeypatch.setitem(app.extensions, _TEXT_READ, ())  # the OCR job finds no note
    read_picture_text(image_id)
    db.session.expire_all()
    assert api.get(f"/notes/{note['id']}", "author").get_json()["status"] == "published"

    assert screen_pictures_once_read(note["id"]) == {"held": True, "skipped": False}
    db.session.expire_all()
    assert api.get(f"/notes/{note['id']}", "author").get_json()["status"] == "pending_review"
    assert screen_pictures_once_read(note["id"])["skipped"] is True  # retried: nothing twice
    (case,) = cases(api)
    assert case["evidence"]["picture_text"][0]["kind"] == "contact"


def test_a_picture_whose_text_was_never_read_is_read_by_the_repair(api, app):
    """A picture uploaded before text was read (or whose job was written off) is read by
    the outbox's sweep once it is past the deadline, and only once it has no pending job."""
    from app.core.extensions import db
    from app.core.jobs.outbox import STUCK_AFTER
    from app.core.models import utcnow
    from app.media.jobs import repair_unread_pictures

    setup(api)
    image_id = upload(api, "author", picture("手冲咖啡 28元"))
    row = image_row(image_id)
    row.text, row.text_lines, row.text_read_at = None, None, None
    db.session.commit()
    assert repair_unread_pictures() == 0  # too recent: its own job may still be on its way
    row = image_row(image_id)
    row.created_at = utcnow() - STUCK_AFTER * 2
    db.session.commit()
    assert repair_unread_pictures() == 1
    row = image_row(image_id)
    assert row.text_read_at is not None and "手冲咖啡" in row.text
    assert repair_unread_pictures() == 0


def test_the_repairs_skip_pictures_whose_job_is_still_pending(api, app):
    """A picture with a pending outbox row (a failed read waiting for its retry) is left to
    that row; the sweep reads the others and does not fail on the rows it finds."""
    from app.core.extensions import db
    from app.core.jobs.outbox import STUCK_AFTER, pending_args, record_failure
    from app.core.models import utcnow
    from app.media.jobs import read_picture_text, repair_stuck_images, repair_unread_pictures

    setup(api)
    waiting, other = (upload(api, "author", picture(text)) for text in ("手冲咖啡 28元", "拿铁"))
    for image_id in (waiting, other):
        row = image_row(image_id)
        row.text, row.text_lines, row.text_read_at = None, None, None
        row.created_at = utcnow() - STUCK_AFTER * 2
    db.session.commit()
    record_failure(read_picture_text, [waiting], RuntimeError("the reader was down"))
    assert pending_args(read_picture_text) == [[waiting]]
    assert repair_unread_pictures() == 1  # the other one only
    assert image_row(other).text_read_at is not None
    assert image_row(waiting).text_read_at is None  # its own retry will read it
    assert repair_stuck_images() == 0
