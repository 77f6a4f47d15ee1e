"""Static catalog for the Formosa Fresh demo: regions, stores, products, names, devices."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

CATEGORY_LABELS = {
    "dairy": "乳製品",
    "meat": "肉品",
    "produce": "蔬果",
    "bakery": "烘焙",
    "beverages": "飲料",
    "snacks": "零食",
    "household": "日用品",
}

# name:price in TWD; HKD prices are derived (see Region.price).
_PRODUCT_TABLE = {
    "dairy": "鮮乳936ml:95 低脂鮮乳:89 原味優格:55 希臘優格:79 起司片:119 無糖優酪乳:65 發酵奶油:189",
    "meat": "豬梅花肉片:189 去骨雞腿排:159 雞胸肉:129 牛小排:459 豬絞肉:119 帶骨豬排:219",
    "produce": "高麗菜:59 香蕉:45 珍珠芭樂:69 富士蘋果:120 台農地瓜:55 玉女小番茄:89 青江菜:35",
    "bakery": "全麥吐司:65 菠蘿麵包:35 奶油可頌:45 葡式蛋塔:38 原味貝果:40",
    "beverages": "凍頂烏龍茶:35 無糖綠茶:25 阿里山咖啡豆:450 氣泡水:30 椰子水:49",
    "snacks": "土鳳梨酥:280 花生牛軋糖:199 海鹽洋芋片:45 烤海苔:69 綜合堅果:259",
    "household": "抽取式衛生紙:229 天然洗碗精:99 濃縮洗衣精:269 垃圾袋:79 含氟牙膏:89",
}

# (product_id, sku, name, category, price_twd)
PRODUCTS: list[tuple[str, str, str, str, int]] = []
PRODUCTS_BY_CATEGORY: dict[str, list[int]] = {}
for _cat, _items in _PRODUCT_TABLE.items():
    for _n, _item in enumerate(_items.split(), start=1):
        _name, _price = _item.split(":")
        PRODUCTS_BY_CATEGORY.setdefault(_cat, []).append(len(PRODUCTS))
        PRODUCTS.append(
            (
                f"P{1001 + len(PRODUCTS)}",
                f"FF-{_cat[:3].upper()}-{_n:03d}",
                _name,
                _cat,
                int(_price),
            )
        )

# coupon_id: (name, discount in TWD)
COUPONS = {
    "FRESH100": ("滿千折百", 100),
    "WELCOME150": ("新會員見面禮", 150),
    "LINE50": ("LINE好友券", 50),
    "DAIRY60": ("乳品週折價券", 60),
}

# store_id: (name, city, network index for the till's private IP)
STORES = {
    "TPE-XINYI-01": ("台北信義店", "台北市", 1),
    "TPE-DAAN-01": ("台北大安店", "台北市", 2),
    "NTP-BANQIAO-01": ("板橋店", "新北市", 3),
    "TAO-ZHONGLI-01": ("中壢店", "桃園市", 4),
    "HSZ-EAST-01": ("新竹東區店", "新竹市", 5),
    "TXG-XITUN-01": ("台中西屯店", "台中市", 6),
    "TNN-EAST-01": ("台南東區店", "台南市", 7),
    "KHH-ZUOYING-01": ("高雄左營店", "高雄市", 8),
    "HKG-CWB-01": ("銅鑼灣店", "香港島", 21),
    "HKG-TST-01": ("尖沙咀店", "九龍", 22),
    "HKG-MK-01": ("旺角店", "九龍", 23),
    "HKG-ST-01": ("沙田店", "新界", 24),
}
STORES_BY_CITY: dict[str, list[str]] = {}
for _sid, (_sname, _city, _net) in STORES.items():
    STORES_BY_CITY.setdefault(_city, []).append(_sid)

CITY_WEIGHTS = {
    "TW": (
        ("台北市", 22),
        ("新北市", 22),
        ("桃園市", 12),
        ("新竹市", 6),
        ("台中市", 16),
        ("台南市", 8),
        ("高雄市", 14),
    ),
    "HK": (("香港島", 30), ("九龍", 35), ("新界", 35)),
}


@dataclass(frozen=True, slots=True)
class Region:
    """Market settings: currency, locales, tier names, web shop and shipping rules."""

    code: str
    currency: str
    locales: tuple[str, ...]
    locale_weights: tuple[float, ...]
    tiers: tuple[str, str, str]
    site: str
    line_share: float
    price_divisor: float
    free_shipping: int
    shipping: int
    stores: tuple[str, ...]

    def price(self, twd: int) -> int:
        """Shelf price in this region's currency."""
        return twd if self.price_divisor == 1 else max(3, round(twd / self.price_divisor))

    def product_props(self, i: int) -> dict[str, Any]:
        """Segment product properties for catalog row `i`."""
        pid, sku, name, category, twd = PRODUCTS[i]
        return {
            "product_id": pid,
            "sku": sku,
            "name": name,
            "category": category,
            "price": self.price(twd),
            "currency": self.currency,
        }


REGIONS = {
    "TW": Region(
        "TW",
        "TWD",
        ("zh-TW", "en-US"),
        (0.9, 0.1),
        ("一般", "銀卡", "金卡"),
        "www.formosafresh.example",
        0.6,
        1,
        999,
        60,
        tuple(s for s, v in STORES.items() if not s.startswith("HKG")),
    ),
    "HK": Region(
        "HK",
        "HKD",
        ("zh-HK", "en-US"),
        (0.8, 0.2),
        ("Basic", "Silver", "Gold"),
        "hk.formosafresh.example",
        0.12,
        4.1,
        300,
        30,
        tuple(s for s in STORES if s.startswith("HKG")),
    ),
}

# (surname, Taiwan romanisation, Cantonese romanisation)
SURNAMES = (
    ("陳", "chen", "chan"),
    ("林", "lin", "lam"),
    ("黃", "huang", "wong"),
    ("張", "chang", "cheung"),
    ("李", "lee", "lee"),
    ("王", "wang", "wong"),
    ("吳", "wu", "ng"),
    ("劉", "liu", "lau"),
    ("蔡", "tsai", "choi"),
    ("楊", "yang", "yeung"),
    ("許", "hsu", "hui"),
    ("鄭", "cheng", "cheng"),
    ("謝", "hsieh", "tse"),
    ("郭", "kuo", "kwok"),
    ("何", "ho", "ho"),
    ("梁", "liang", "leung"),
    ("周", "chou", "chow"),
    ("曾", "tseng", "tsang"),
)
# (given name, romanisation, gender)
GIVEN_NAMES = (
    ("小明", "hsiaoming", "M"),
    ("大文", "taiman", "M"),
    ("志明", "chihming", "M"),
    ("家豪", "chiahao", "M"),
    ("冠宇", "kuanyu", "M"),
    ("俊傑", "chunchieh", "M"),
    ("建宏", "chienhung", "M"),
    ("柏翰", "pohan", "M"),
    ("偉強", "waikeung", "M"),
    ("承恩", "chengen", "M"),
    ("淑芬", "shufen", "F"),
    ("美玲", "meiling", "F"),
    ("雅婷", "yating", "F"),
    ("怡君", "yichun", "F"),
    ("詩涵", "shihhan", "F"),
    ("佳穎", "chiaying", "F"),
    ("嘉欣", "kayan", "F"),
    ("欣怡", "hsinyi", "F"),
    ("子晴", "tzuching", "F"),
    ("宜蓁", "yichen", "F"),
)

WEB_USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Mobile Safari/537.36",
)
MOBILE_DEVICES = (
    ("ios", "iPhone15,2"),
    ("ios", "iPhone16,1"),
    ("ios", "iPhone14,5"),
    ("android", "SM-S921B"),
    ("android", "Pixel 8"),
    ("android", "ASUS_AI2302"),
    ("android", "CPH2551"),
)
TABLET_DEVICE = ("ios", "iPad13,18")
LIB_WEB = {"name": "analytics.js", "version": "next-1.76.0"}
LIB_PYTHON = {"name": "analytics-python", "version": "2.3.3"}
