"""The moderation text filter on a labelled set: hostile texts written to evade it (spacing,
symbols, full-width, traditional characters, case, digits in Chinese numerals, contact-detail
disguises) and ordinary notes and comments, some chosen because they contain a keyword's
characters. Target: recall ≥ 0.95 on the hostile set, no false positive on the ordinary set.
`python -m tests.unit.test_text_filter` prints the figures."""

from __future__ import annotations

from moderation.text_filter import Keyword, TextFilter

KEYWORDS = [
    Keyword("代开发票", "block", "spam_ads"),
    Keyword("刷单", "block", "spam_ads"),
    Keyword("兼职日结", "review", "spam_ads"),
    Keyword("网赚", "review", "spam_ads"),
    Keyword("赌博", "block", "illegal"),
    Keyword("博彩", "block", "illegal"),
    Keyword("六合彩", "block", "illegal"),
    Keyword("裸聊", "block", "porn"),
    Keyword("约炮", "block", "porn"),
    Keyword("援交", "block", "porn"),
    Keyword("冰毒", "block", "illegal"),
    Keyword("迷药", "block", "illegal"),
    Keyword("办证", "review", "illegal"),
    Keyword("高利贷", "review", "illegal"),
    Keyword("加微信", "review", "spam_ads"),
    Keyword("porn", "block", "porn"),
    Keyword("fuck", "review", "unfriendly"),
    Keyword("傻逼", "review", "unfriendly"),
    # ordinary words that run across a keyword
    Keyword("单词", "allow"),
    Keyword("订单", "allow"),
    Keyword("账单", "allow"),
    Keyword("菜单", "allow"),
    Keyword("买单", "allow"),
]

HOSTILE = [
    "代开发票，量大从优",
    "代 开 发 票 联系我",
    "代.开.发.票",
    "代-开-发-票",
    "代⭐开⭐发⭐票",
    "代開發票",
    "代​开​发​票",
    "ＤＡＩ开发票代开发票",
    "刷单返利，日入过百",
    "刷 单 兼 职",
    "刷*单",
    "兼职日结 在家可做",
    "兼-职-日-结",
    "网赚项目稳赚不赔",
    "網賺 新項目",
    "线上赌博 包赢",
    "赌 博 网 站",
    "賭博",
    "博彩 平台 注册送彩金",
    "六合彩 内部资料",
    "六 合 彩",
    "裸聊 私信",
    "裸～聊",
    "约炮 同城",
    "約炮",
    "援交 学生",
    "冰毒 货到付款",
    "冰_毒",
    "迷药 无色无味",
    "迷.藥",
    "办证 刻章",
    "辦證",
    "高利贷 秒批",
    "加微信 领资料",
    "加 微 信",
    "加薇信 abc123456",
    "v信：sprout_2024",
    "VX: Sprout2024",
    "ｖｘ：ｓｐｒｏｕｔ２０２４",
    "威信 hello99 拉你进群",
    "扣扣 123456789",
    "QQ：987654321",
    "加v xiaohongshu88",
    "电话 13800138000",
    "联系 138 0013 8000",
    "138-0013-8000",
    "１３８００１３８０００",
    "一三八零零一三八零零零",
    "壹叁捌零零壹叁捌零零零",
    "手机：15912345678 微信同号",
    "点击 https://spam.example.com/x 领取",
    "www.spamshop.com",
    "www . spamshop . com",
    "spam点com",
    "spam點com 优惠",
    "shop.xyz 下单",
    "PORN 网站",
    "p o r n",
    "FUCK you",
    "傻 逼",
]

ORDINARY = [
    "今天去吃了一家超好吃的火锅，毛肚很新鲜",
    "这款防晒霜清爽不油腻，夏天用刚好",
    "周末和朋友去露营，天幕帐篷都是租的",
    "发票记得找商家开，报销要用",
    "刷单词卡背了一百个单词",
    "订单号 202311251234，物流到了",
    "这个月的账单出来了，超支了",
    "餐厅菜单上的招牌菜一定要点",
    "朋友抢着买单，太客气了",
    "博物馆一日游，人不多",
    "六合一的卸妆膏很好用",
    "身高165体重110斤，穿M码刚好",
    "价格199元，双十一还有券",
    "我用微信支付买的，很方便",
    "公众号里有详细教程",
    "宝宝3岁2个月了，开始学说话",
    "2023年11月25日 晴",
    "iPhone 15 Pro 续航比上一代好",
    "这个博主的vlog拍得很好看",
    "今天的OOTD是米色大衣",
    "迷你版的包包太可爱了",
    "冰美式加燕麦奶是我的最爱",
    "去办理了护照和签证",
    "利率调整后房贷压力小了一点",
    "这个app可以记账，挺好用",
    "微信读书上看完了三体",
    "QQ音乐的会员到期了",
    "打卡了网红咖啡店，环境不错",
    "我的手机号换了，记得改备注",
    "健身第三十天，体重降了3公斤",
    "早餐：全麦面包+鸡蛋+牛奶",
    "一三五去健身房，二四六跑步",
    "电话联系了客服，态度很好",
    "这本书的纸张和印刷都很好",
    "口红试色：#999 很显白",
    "出门记得带伞，今天有雨",
    "小猫咪今天学会了开门",
    "收纳技巧：抽屉分隔盒很实用",
    "跑了一个半马，21.0975公里",
    "家里的扫地机器人终于到了",
    "秋天的第一杯奶茶",
    "猫粮换成了无谷的，毛色变好了",
    "面试经验分享：准备好作品集",
    "考研倒计时100天，加油",
    "空气炸锅做鸡翅，十五分钟搞定",
    "去了趟苏州，园林真的美",
    "这件衬衫是棉麻的，很透气",
    "周报写完了，终于可以下班",
    "今天的晚霞好漂亮",
    "推荐一个英语播客，语速适中",
    "宜家买的书架，安装花了两小时",
    "新手化妆：先打底再上粉底",
    "孩子的绘本推荐，适合3到6岁",
    "在B站看了一个做饭教程",
    "网页版也能用，地址在简介里",
    "这个价格真的很划算",
    "买了三盒草莓，一盒十五块",
    "我们的博客搬家了",
    "火车票抢到了，春节回家",
    "爬山的时候看到了松鼠",
]


def scan_all() -> tuple[list[str], list[str]]:
    text_filter = TextFilter(KEYWORDS)
    missed = [text for text in HOSTILE if text_filter.verdict(text) is None]
    false_positives = [text for text in ORDINARY if text_filter.verdict(text) is not None]
    return missed, false_positives


def test_recall_and_false_positives_on_the_labelled_set():
    missed, false_positives = scan_all()
    recall = 1 - len(missed) / len(HOSTILE)
    assert recall >= 0.95, missed
    assert false_positives == []


def test_matches_point_at_the_original_text_and_take_the_strictest_action():
    text_filter = TextFilter(KEYWORDS)
    (match,) = text_filter.scan("看这里：代 开 發 票！")
    assert match.text == "代 开 發 票" and match.action == "block"
    assert text_filter.verdict("加微信，再刷单") == "block"
    assert text_filter.verdict("加微信") == "review"
    assert text_filter.verdict("今天天气很好") is None


def test_an_allowed_word_only_overrides_the_match_it_runs_across():
    text_filter = TextFilter(KEYWORDS)
    assert text_filter.verdict("刷单词卡") is None  # 单词
    assert text_filter.verdict("刷单，看订单截图") == "block"  # 订单 is elsewhere


if __name__ == "__main__":
    missed, false_positives = scan_all()
    print(
        f"hostile: {len(HOSTILE)}, missed {len(missed)} → recall "
        f"{1 - len(missed) / len(HOSTILE):.3f} {missed}"
    )
    print(f"ordinary: {len(ORDINARY)}, false positives {len(false_positives)} {false_positives}")
