"""Text in pictures, measured: a labelled set generated here (deterministic), read by the real
OCR engine (`app.media.ocr`) and screened by the real function (`moderation.pictures`).

Positives: contact details (mobile numbers, WeChat/QQ ids after their cue words, links) and a
few filter keywords, drawn in several fonts, sizes, angles and colours over photo-like
backgrounds, often beside ordinary text. Clean: ordinary text only (product names, shop
signs, menus with prices, dates, model numbers, barcodes). No photographs are stored on this
machine, so the backgrounds are synthesised: smooth colour fields, blurred blobs, grain and
shapes, the clutter a photo puts behind text.

Prints recall on the positives, false holds on the clean set, seconds per picture (mean,
p95) and peak memory, and lists the misses and false holds with what was read.

    .venv/bin/python benchmarks/ocr_eval.py                 # 180 positive, 120 clean
    .venv/bin/python benchmarks/ocr_eval.py --save /tmp/ocr-set   # also write the pictures
"""

from __future__ import annotations

import argparse
import io
import random
import resource
import statistics
import string
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont
from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.media.ocr import read_bytes  # noqa: E402
from moderation.pictures import find_picture_text, verdict  # noqa: E402
from moderation.text_filter import Keyword, TextFilter  # noqa: E402


def _fonts() -> dict[str, tuple[str, bool]]:
    """name -> (path, draws Chinese)."""
    import pylopdf_fonts_zh_cn

    noto = Path(pylopdf_fonts_zh_cn.__file__).parent
    fonts = {
        "wqy-microhei": ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", True),
        "wqy-zenhei": ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", True),
        "ar-ukai": ("/usr/share/fonts/truetype/arphic/ukai.ttc", True),
        "ar-uming": ("/usr/share/fonts/truetype/arphic/uming.ttc", True),
        "noto-sans-sc": (str(noto / "NotoSansSC-Regular.otf"), True),
        "noto-serif-sc": (str(noto / "NotoSerifSC-Regular.otf"), True),
        "dejavu-sans-bold": ("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf", False),
        "dejavu-serif": ("/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf", False),
    }
    return {name: spec for name, spec in fonts.items() if Path(spec[0]).exists()}


FONTS = _fonts()
KEYWORDS = [
    Keyword("刷单", "block", "spam_ads"),
    Keyword("兼职日结", "review", "spam_ads"),
    Keyword("代开发票", "block", "illegal"),
    Keyword("裸聊", "block", "porn"),
]


# -- what is drawn ---------------------------------------------------------------------------
def _phone(rng: random.Random) -> str:
    return rng.choice("3456789") and f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}"


def _spaced_phone(rng: random.Random) -> str:
    p = _phone(rng)
    sep = rng.choice([" ", "-", " "])
    return f"{p[:3]}{sep}{p[3:7]}{sep}{p[7:]}"


def _handle(rng: random.Random) -> str:
    head = rng.choice(string.ascii_lowercase)
    body = "".join(rng.choice(string.ascii_lowercase + string.digits + "_") for _ in range(7))
    return head + body.strip("_") + str(rng.randrange(10, 99))


def _qq(rng: random.Random) -> str:
    return str(rng.randrange(10**7, 10**10))


def _domain(rng: random.Random) -> str:
    word = "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(4, 8)))
    return f"{word}.{rng.choice(['com', 'cn', 'net', 'top', 'vip', 'shop'])}"


POSITIVE_TEMPLATES: dict[str, list] = {
    "phone": [
        lambda r: f"电话 {_phone(r)}",
        lambda r: f"咨询热线：{_spaced_phone(r)}",
        lambda r: f"手机{_phone(r)}",
        lambda r: f"TEL {_phone(r)}",
        lambda r: f"预约 {_spaced_phone(r)}",
        lambda r: _phone(r),
    ],
    "wechat": [
        lambda r: f"加微信 {_handle(r)}",
        lambda r: f"vx: {_handle(r)}",
        lambda r: f"V信 {_handle(r)}",
        lambda r: f"wx：{_handle(r)}",
        lambda r: f"微信号 {_handle(r)}",
        lambda r: f"威信 {_handle(r)} 领福利",
        lambda r: f"+V {_handle(r)}",
    ],
    "qq": [
        lambda r: f"QQ {_qq(r)}",
        lambda r: f"扣扣 {_qq(r)}",
        lambda r: f"QQ号：{_qq(r)}",
        lambda r: f"企鹅 {_qq(r)} 私聊",
    ],
    "link": [
        lambda r: f"www.{_domain(r)}",
        lambda r: f"官网 {_domain(r)}",
        lambda r: f"https://{_domain(r)}/{r.randrange(100, 999)}",
        lambda r: f"下单戳 {_domain(r)}",
    ],
    "keyword": [
        lambda r: "招聘刷单 日赚300",
        lambda r: "兼职日结 在家可做",
        lambda r: "代开发票 正规",
        lambda r: "同城裸聊",
    ],
}

CLEAN_LINES = [
    "兰蔻小黑瓶精华 50ml", "雅诗兰黛特润修护", "有机燕麦片 1kg", "iPhone 15 Pro Max 256GB",
    "华为 Mate 60 Pro", "小米空气净化器 4", "老王牛肉面", "营业中", "欢迎光临", "鲜榨果汁",
    "手工水饺 28元", "红烧肉 48元", "宫保鸡丁 36元", "酸菜鱼 68元", "拿铁 ¥32", "美式咖啡 ¥25",
    "今日特价 9.9元", "全场八折", "2026年5月1日", "2026-05-01 14:30", "营业时间 9:00-21:00",
    "人民路88号", "第3号门", "出口 EXIT", "小心地滑", "禁止吸烟", "新品上市", "限量发售",
    "Spring Sale 30% OFF", "Open 24 Hours", "FRESH BAKERY", "Coffee & Tea", "Made in China",
    "条码 6901234567892", "订单号 20260501123456789", "SKU 300245", "型号 KFR-35GW",
    "净含量 500g", "保质期 12个月", "生产日期 2026.03.15", "成都 火锅 串串", "杭州西湖 断桥",
    "草莓蛋糕 6寸 168元", "周一至周五 10:00-22:00", "Room 1208", "Gate B12", "第二杯半价",
    "本店招牌 椒麻鸡", "青岛啤酒 330ml", "农夫山泉 550ml", "北京烤鸭 半只 98元",
    "阅读 是一种生活方式", "春日限定 樱花拿铁", "露营装备 专区", "亲子乐园 入口",
]  # fmt: skip


# -- how it is drawn -------------------------------------------------------------------------
def background(rng: random.Random, size: tuple[int, int]) -> Image.Image:
    """A photo-like backdrop: smooth colour fields, blurred blobs, shapes and grain."""
    width, height = size
    nprng = np.random.default_rng(rng.randrange(2**32))
    coarse = nprng.integers(0, 256, (rng.randint(2, 5), rng.randint(2, 5), 3), dtype=np.uint8)
    image = Image.fromarray(coarse).resize(size, Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(image, "RGBA")
    for _ in range(rng.randint(4, 14)):
        x, y = rng.randrange(width), rng.randrange(height)
        radius = rng.randint(20, max(40, width // 4))
        colour = (*(rng.randrange(256) for _ in range(3)), rng.randint(60, 200))
        if rng.random() < 0.5:
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=colour)
        else:
            draw.rectangle((x, y, x + radius * 2, y + radius), fill=colour)
    image = image.filter(ImageFilter.GaussianBlur(rng.uniform(2, 12)))
    grain = nprng.normal(0, rng.uniform(3, 12), (height, width, 3))
    pixels = np.clip(np.asarray(image, dtype=np.float32) + grain, 0, 255).astype(np.uint8)
    return Image.fromarray(pixels)


def _colour(rng: random.Random, behind: tuple[int, int, int]) -> tuple[int, int, int]:
    """A text colour that stands out from the local background (as people choose)."""
    light = sum(behind) / 3 > 128
    for _ in range(20):
        colour = tuple(rng.randrange(256) for _ in range(3))
        if abs(sum(colour) / 3 - sum(behind) / 3) > 90:
            return colour  # type: ignore[return-value]
    return (20, 20, 20) if light else (245, 245, 245)


@dataclass
class Sample:
    label: str  # "positive" or "clean"
    category: str  # phone, wechat, qq, link, keyword, clean
    lines: list[str]
    font: str
    size: int
    angle: float
    data: bytes


def draw_sample(rng: random.Random, label: str, category: str, lines: list[str]) -> Sample:
    size = rng.choice(
        [(640, 480), (800, 600), (1080, 1080), (1200, 900), (1440, 1080), (1600, 1200)]
    )
    image = background(rng, size).convert("RGBA")
    needs_cjk = any(ord(ch) > 127 for line in lines for ch in line)
    names = [name for name, (_, cjk) in FONTS.items() if cjk or not needs_cjk]
    font_name = rng.choice(names)
    font_size = rng.randint(max(22, size[0] // 40), max(30, size[0] // 16))
    font = ImageFont.truetype(FONTS[font_name][0], font_size)
    layer = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    gap = int(font_size * 1.5)
    block_w = max(int(draw.textlength(line, font=font)) for line in lines)
    x = rng.randint(10, max(11, size[0] - block_w - 10))
    y = rng.randint(10, max(11, size[1] - gap * len(lines) - 10))
    behind = image.convert("RGB").resize((1, 1), box=(x, y, x + block_w, y + gap * len(lines)))
    behind_colour = behind.getpixel((0, 0))
    panel = rng.random() < 0.3
    if panel:  # a sticker or label behind the text
        tone = tuple(rng.randrange(256) for _ in range(3))
        draw.rounded_rectangle(
            (x - 12, y - 10, x + block_w + 12, y + gap * len(lines)), 12, fill=(*tone, 220)
        )
        behind_colour = tone
    colour = _colour(rng, behind_colour)  # type: ignore[arg-type]
    stroke = rng.random() < 0.3
    for index, line in enumerate(lines):
        draw.text(
            (x, y + index * gap),
            line,
            font=font,
            fill=(*colour, 255),
            stroke_width=2 if stroke else 0,
            stroke_fill=(255 - colour[0], 255 - colour[1], 255 - colour[2], 255),
        )
    angle = rng.choice([0, 0, 0, rng.uniform(-15, 15), rng.uniform(-35, 35)])
    if angle:
        layer = layer.rotate(angle, resample=Image.Resampling.BICUBIC, center=(x, y))
    picture = Image.alpha_composite(image, layer).convert("RGB")
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=rng.randint(70, 92))
    return Sample(label, category, lines, font_name, font_size, round(angle, 1), out.getvalue())


def labelled_set(seed: int, positives: int, clean: int) -> list[Sample]:
    rng = random.Random(seed)
    samples = []
    categories = list(POSITIVE_TEMPLATES)
    for index in range(positives):
        category = categories[index % len(categories)]
        lines = [rng.choice(POSITIVE_TEMPLATES[category])(rng)]
        if rng.random() < 0.5:  # beside ordinary text, above or below
            extra = rng.choice(CLEAN_LINES)
            lines = [extra, *lines] if rng.random() < 0.5 else [*lines, extra]
        samples.append(draw_sample(rng, "positive", category, lines))
    for _ in range(clean):
        lines = rng.sample(CLEAN_LINES, rng.randint(1, 4))
        samples.append(draw_sample(rng, "clean", "clean", lines))
    return samples


# -- the run ---------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=20)
    parser.add_argument("--positives", type=int, default=180)
    parser.add_argument("--clean", type=int, default=120)
    parser.add_argument("--save", type=Path, help="write the pictures here")
    args = parser.parse_args()

    scanner = TextFilter(KEYWORDS)
    samples = labelled_set(args.seed, args.positives, args.clean)
    if args.save:
        args.save.mkdir(parents=True, exist_ok=True)
        for index, sample in enumerate(samples):
            (args.save / f"{index:03d}-{sample.category}.jpg").write_bytes(sample.data)
    read_bytes(samples[0].data)  # load the engine before timing (0.4 s, once per process)
    seconds: list[float] = []
    held: dict[str, list[bool]] = {}
    misses, false_holds = [], []
    for index, sample in enumerate(tqdm(samples, desc="pictures", unit="pic")):
        started = time.perf_counter()
        lines = [line.to_dict() for line in read_bytes(sample.data)]
        findings = find_picture_text(index, lines, new_account=True, scanner=scanner)
        is_held = verdict(findings).verdict == "review"
        seconds.append(time.perf_counter() - started)
        held.setdefault(sample.category, []).append(is_held)
        read = " | ".join(line["text"] for line in lines)
        if sample.label == "positive" and not is_held:
            misses.append((index, sample, read))
        if sample.label == "clean" and is_held:
            false_holds.append((index, sample, read, findings))

    positives = [h for c, hs in held.items() if c != "clean" for h in hs]
    recall = sum(positives) / len(positives)
    ordered = sorted(seconds)
    p95 = ordered[int(0.95 * (len(ordered) - 1))]
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nseed {args.seed}: {len(positives)} positive, {len(held.get('clean', []))} clean")
    print("| set | pictures | held | rate |\n|---|---|---|---|")
    for category, hs in held.items():
        print(f"| {category} | {len(hs)} | {sum(hs)} | {sum(hs) / len(hs):.3f} |")
    print(f"\nrecall {recall:.3f}; false holds on the clean set {len(false_holds)}")
    print(
        f"seconds per picture (OCR + screening): mean {statistics.mean(seconds):.3f}, "
        f"p95 {p95:.3f}, max {ordered[-1]:.3f}; peak memory {peak_mb:.0f} MB"
    )
    for index, sample, read in misses:
        print(f"MISS #{index} {sample.category} {sample.font} {sample.size}px "
              f"{sample.angle}°: drawn {sample.lines!r} read {read!r}")  # fmt: skip
    for index, sample, read, findings in false_holds:
        found = [(f["kind"], f["text"]) for f in findings]
        print(f"FALSE HOLD #{index}: drawn {sample.lines!r} read {read!r} found {found}")


if __name__ == "__main__":
    main()
