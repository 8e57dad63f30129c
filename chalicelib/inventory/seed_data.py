"""A deterministic demo catalog: categories, products, stores and stock that look like a real shop.

Pure (no AWS): the same `seed` always gives the same data, so demos, tests and benchmarks agree. Titles are
built from per-category word lists (brands, materials or flavours, product nouns, colours, sizes), and some of
the words carry accents (Café, Crème brûlée, Jalapeño, Über, Açaí) so accent-insensitive search has
something to find. Money is integer minor units.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["CATEGORIES", "Category", "Item", "categories", "category_name", "products", "stock", "stores"]


@dataclass(frozen=True, slots=True)
class Item:
    """A kind of product and the words that fit it (no "Crunchy Olive Oil", no "Leather Leather Belt")."""

    noun: str
    # Materials, flavours or qualifiers: the word between brand and noun.
    qualifiers: tuple[str, ...]
    features: tuple[str, ...]
    # Sizes or amounts; empty when the product comes in one size.
    variants: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Category:
    id: str
    name: str
    sku_prefix: str
    # Price range in minor units; prices end in 99 or 49 like a shelf label.
    min_price_q: int
    max_price_q: int
    items: tuple[Item, ...]
    # Second sentences of descriptions, true of anything in the category.
    closers: tuple[str, ...]
    # Things come in colours; food and cosmetics do not.
    colours: bool = True


_COLOURS = (
    "Black", "White", "Charcoal", "Navy", "Olive", "Sand", "Burgundy", "Forest Green", "Sky Blue", "Rust",
    "Crème", "Slate Grey",
)
_SHOE_SIZES = ("EU 38", "EU 39", "EU 40", "EU 41", "EU 42", "EU 43", "EU 44", "EU 45")
_CLOTHES_SIZES = ("XS", "S", "M", "L", "XL", "XXL")

CATEGORIES: tuple[Category, ...] = (
    Category("footwear", "Footwear", "FTW", 3999, 18999, (
        Item("Running Shoes", ("Lightweight", "Breathable Mesh", "Cushioned"),
             ("a responsive foam midsole", "reflective details for early runs"), _SHOE_SIZES),
        Item("Trail Sneakers", ("Waterproof", "Breathable Mesh", "All-Terrain"),
             ("a grippy rubber outsole", "a rock plate under the forefoot"), _SHOE_SIZES),
        Item("Hiking Boots", ("Leather", "Waterproof", "Suede"),
             ("a padded heel collar", "a Vibram sole"), _SHOE_SIZES),
        Item("Chelsea Boots", ("Suede", "Leather", "Vegan Leather"),
             ("elastic side panels", "a stacked leather heel"), _SHOE_SIZES),
        Item("Loafers", ("Suede", "Leather"), ("a hand-stitched apron toe", "a cushioned insole"), _SHOE_SIZES),
        Item("Sandals", ("Cork", "Leather", "Vegan Leather"),
             ("a removable cork footbed", "adjustable buckle straps"), _SHOE_SIZES),
    ), ("Built for all-day comfort on city streets and gravel paths.",
        "True to size; go half a size up for thick socks.", "Resoleable by any good cobbler.")),
    Category("apparel", "Apparel", "APP", 1499, 12999, (
        Item("T-Shirt", ("Organic Cotton", "Heavyweight Cotton", "Linen"),
             ("a relaxed fit", "a ribbed crew neck"), _CLOTHES_SIZES),
        Item("Hoodie", ("Recycled Fleece", "Organic Cotton", "Merino Wool"),
             ("a brushed inner face", "a kangaroo pocket"), _CLOTHES_SIZES),
        Item("Rain Jacket", ("Waterproof", "Packable", "Recycled Nylon"),
             ("taped seams", "a two-way zip and an adjustable hood"), _CLOTHES_SIZES),
        Item("Chinos", ("Stretch Twill", "Organic Cotton", "Slim-Fit"),
             ("a tapered leg", "deep side pockets"), ("W30 L32", "W32 L32", "W34 L32", "W36 L34")),
        Item("Crewneck Sweater", ("Merino Wool", "Cashmere Blend", "Lambswool"),
             ("ribbed cuffs and hem", "a soft, itch-free knit"), _CLOTHES_SIZES),
        Item("Running Shorts", ("Lightweight", "Quick-Dry"), ("a built-in liner", "a zip key pocket"),
             _CLOTHES_SIZES),
    ), ("Machine wash cold and hang to dry.", "Pre-shrunk, so the fit stays after the first wash.",
        "Layers easily under a jacket or over a tee.")),
    Category("bags", "Bags & Accessories", "BAG", 1999, 14999, (
        Item("Backpack", ("Waxed Canvas", "Ripstop Nylon", "Recycled Polyester"),
             ("a padded 15-inch laptop sleeve", "YKK zips and a hidden passport pocket")),
        Item("Tote Bag", ("Waxed Canvas", "Organic Cotton", "Full-Grain Leather"),
             ("reinforced handles", "an inner zip pocket")),
        Item("Messenger Bag", ("Waxed Canvas", "Full-Grain Leather"),
             ("an adjustable shoulder strap", "a magnetic flap closure")),
        Item("Bifold Wallet", ("Full-Grain Leather", "Cork"),
             ("RFID-blocking card slots", "room for eight cards and notes")),
        Item("Belt", ("Full-Grain Leather", "Woven Elastic"), ("a solid brass buckle", "hand-burnished edges"),
             ("85 cm", "90 cm", "95 cm", "100 cm")),
        Item("Duffel Bag", ("Ripstop Nylon", "Waxed Canvas"),
             ("a separate shoe compartment", "a water-resistant coating")),
    ), ("Ages beautifully with everyday use.", "Backed by a two-year warranty.",
        "Carry-on size for most airlines.")),
    Category("coffee-tea", "Coffee & Tea", "COF", 599, 3499, (
        Item("Café Espresso Beans", ("Single-Origin", "Dark Roast", "Organic"),
             ("notes of cocoa and toasted hazelnut", "a thick, lasting crema"), ("250 g", "500 g", "1 kg")),
        Item("Whole Bean Coffee", ("Single-Origin", "Medium Roast", "Fair Trade", "Decaf"),
             ("a bright citrus finish", "beans roasted in small batches"), ("250 g", "500 g", "1 kg")),
        Item("Ground Coffee", ("Medium Roast", "Decaf", "Arabica"),
             ("a smooth, low-acid body", "a grind suited to filter and French press"), ("250 g", "500 g")),
        Item("Cold Brew Concentrate", ("Arabica", "Vanilla"),
             ("a 20-hour slow steep", "a naturally sweet finish"), ("500 ml", "1 l")),
        Item("Green Tea", ("Organic", "Jasmine", "Sencha"), ("hand-picked first-flush leaves", "a grassy sweetness"),
             ("20 Bags", "100 g Loose Leaf")),
        Item("Masala Chai", ("Spiced", "Organic"), ("whole cardamom, ginger and clove", "Assam black tea"),
             ("20 Bags", "250 g Loose Leaf")),
        Item("Café au Lait Pods", ("Medium Roast", "Decaf"), ("real milk powder", "capsules that compost at home"),
             ("10 Pods", "30 Pods")),
    ), ("Best within three months of opening.", "Pairs well with a crème brûlée after dinner.",
        "Store sealed, away from light and heat."), colours=False),
    Category("bakery", "Bakery & Desserts", "BAK", 199, 2999, (
        Item("Croissant", ("Butter", "Almond", "Ham & Cheese"),
             ("a crisp, flaky crust", "French butter laminated over three days"), ("Single", "Box of 4")),
        Item("Crème Brûlée", ("Vanilla", "Salted Caramel", "Pistachio"),
             ("a custard made with Madagascar vanilla", "a crackling caramelised top"), ("Single", "Box of 2")),
        Item("Sourdough Loaf", ("Rye", "Seeded", "White"),
             ("a long, slow overnight proof", "a blistered, crackly crust"), ("500 g", "1 kg")),
        Item("Pain au Chocolat", ("Dark Chocolate", "Butter"),
             ("two batons of dark chocolate", "a crisp, flaky crust"), ("Single", "Box of 4")),
        Item("Éclair", ("Dark Chocolate", "Coffee", "Salted Caramel"),
             ("a glossy chocolate glaze", "a light choux shell piped with cream"), ("Single", "Box of 6")),
        Item("Macarons", ("Pistachio", "Raspberry", "Salted Caramel", "Assorted"),
             ("almond shells with a chewy centre", "a silky ganache filling"), ("Box of 6", "Box of 12")),
    ), ("Baked fresh every morning.", "Best enjoyed on the day with a café crème.",
        "Warm for two minutes in the oven to revive the crust."), colours=False),
    Category("pantry", "Pantry", "PAN", 249, 2499, (
        Item("Jalapeño Hot Sauce", ("Smoked", "Green", "Extra Hot"),
             ("a slow-building jalapeño heat", "fire-roasted peppers and lime"), ("150 ml", "250 ml")),
        Item("Extra Virgin Olive Oil", ("Cold-Pressed", "Organic", "Single-Estate"),
             ("olives harvested early for a peppery finish", "a grassy, fruity aroma"), ("500 ml", "1 l")),
        Item("Açaí Bowl Mix", ("Organic", "Unsweetened"),
             ("freeze-dried Brazilian açaí", "banana, blueberry and a little cacao"), ("250 g", "500 g")),
        Item("Wildflower Honey", ("Raw", "Organic", "Creamed"),
             ("nectar from summer meadows", "nothing added and nothing filtered out"), ("340 g", "500 g")),
        Item("Peanut Butter", ("Crunchy", "Smooth", "Organic"),
             ("no added sugar or palm oil", "peanuts roasted in small batches"), ("340 g", "1 kg")),
        Item("Fusilli Pasta", ("Bronze-Cut", "Wholewheat", "Organic"),
             ("a rough texture that holds sauce", "durum wheat from Puglia"), ("500 g", "1 kg")),
        Item("Maple Syrup", ("Grade A Amber", "Dark Robust"), ("sap from Québec maples", "a deep caramel taste"),
             ("250 ml", "500 ml")),
    ), ("A pantry staple for weeknight dinners.", "Refrigerate after opening.",
        "Great on tacos, eggs and grain bowls."), colours=False),
    Category("kitchen", "Home & Kitchen", "KIT", 999, 24999, (
        Item("French Press", ("Stainless Steel", "Borosilicate Glass"),
             ("a four-layer mesh filter", "double-wall insulation"), ("350 ml", "1 l")),
        Item("Chef's Knife", ("Japanese Steel", "Damascus Steel", "German Steel"),
             ("a full-tang walnut handle", "a hand-honed 15° edge"), ("18 cm", "20 cm", "24 cm")),
        Item("Cast Iron Skillet", ("Pre-Seasoned", "Enamelled"),
             ("a pour spout on each side", "a helper handle for lifting"), ("20 cm", "26 cm", "30 cm")),
        Item("Stoneware Mug", ("Hand-Glazed", "Speckled"), ("a generous handle", "a reactive glaze, each one unique"),
             ("350 ml", "450 ml")),
        Item("Cutting Board", ("Walnut", "End-Grain Oak", "Bamboo"),
             ("a juice groove", "a surface kind to knife edges"), ("Small", "Large")),
        Item("Dutch Oven", ("Enamelled", "Cast Iron"), ("a tight-fitting lid", "even heat for slow braises"),
             ("4 l", "6 l")),
    ), ("Makes a thoughtful housewarming gift.", "Oven safe up to 260 °C.",
        "Backed by a lifetime warranty.")),
    Category("electronics", "Electronics", "ELE", 1999, 29999, (
        Item("Wireless Earbuds", ("Pro", "Compact", "Sport"),
             ("active noise cancelling", "up to 30 hours of battery with the case")),
        Item("Bluetooth Speaker", ("Waterproof", "Portable", "Studio"),
             ("IP67 water resistance", "360° sound and a 24-hour battery")),
        Item("USB-C Charger", ("Fast-Charging", "Compact", "GaN"),
             ("65 W fast charging", "two USB-C ports and one USB-A")),
        Item("Power Bank", ("Ultra-Slim", "Fast-Charging"), ("a 20,000 mAh cell", "pass-through charging")),
        Item("Smart Watch", ("Sport", "Pro", "Titanium"), ("GPS and heart-rate tracking", "a seven-day battery")),
        Item("Noise-Cancelling Headphones", ("Over-Ear", "Studio", "Foldable"),
             ("multipoint Bluetooth 5.3", "memory-foam ear cushions")),
        Item("Mechanical Keyboard", ("Compact", "Wireless", "Low-Profile"),
             ("hot-swappable switches", "per-key backlighting")),
    ), ("Ships with a braided USB-C cable.", "Pairs with iOS and Android in seconds.",
        "Includes a two-year warranty.")),
    Category("outdoors", "Sports & Outdoors", "OUT", 999, 39999, (
        Item("Yoga Mat", ("Non-Slip", "Natural Rubber", "Cork"),
             ("a non-slip textured surface", "alignment lines"), ("4 mm", "6 mm")),
        Item("Water Bottle", ("Insulated", "Stainless Steel", "Collapsible"),
             ("vacuum insulation that keeps drinks cold for 24 hours", "a leak-proof lid"),
             ("500 ml", "750 ml", "1 l")),
        Item("Two-Person Tent", ("Ultralight", "All-Season", "Freestanding"),
             ("a packed weight under 1.5 kg", "two doors and two vestibules")),
        Item("Sleeping Bag", ("Down", "Synthetic", "Ultralight"), ("a comfort rating of -5 °C", "a full-length zip"),
             ("Regular", "Long")),
        Item("Trekking Poles", ("Carbon", "Aluminium", "Collapsible"),
             ("cork grips", "quick flick-lock adjustment")),
        Item("Headlamp", ("Rechargeable", "Ultralight"), ("400 lumens", "a red night-vision mode")),
    ), ("Tested on alpine trails and in city gyms.", "Packs down small for travel.",
        "Rinse with fresh water after use.")),
    Category("beauty", "Beauty & Care", "BEA", 499, 5999, (
        Item("Shampoo", ("Açaí", "Lavender", "Unscented"), ("no parabens or sulphates", "a lightly foaming formula"),
             ("250 ml", "500 ml")),
        Item("Hand Cream", ("Shea Butter", "Crème", "Lavender"),
             ("a light, non-greasy texture", "a calming lavender scent"), ("50 ml", "100 ml")),
        Item("Lip Balm", ("Açaí", "Shea Butter", "Unscented"), ("cold-pressed açaí oil", "beeswax and vitamin E"),
             ("4.5 g",)),
        Item("Face Serum", ("Vitamin C", "Hyaluronic", "Açaí"),
             ("15% vitamin C", "a fast-absorbing, fragrance-free formula"), ("30 ml",)),
        Item("Bar Soap", ("Olive Oil", "Lavender", "Oatmeal"), ("cold-process saponified oils", "no palm oil"),
             ("100 g", "3 x 100 g")),
        Item("Sunscreen SPF 50", ("Mineral", "Sport", "Tinted"),
             ("broad-spectrum UVA and UVB protection", "a water-resistant, reef-safe formula"), ("50 ml", "100 ml")),
    ), ("Dermatologically tested for sensitive skin.", "Vegan and cruelty-free.",
        "Made in small batches in Lyon."), colours=False),
)

# What each kind of product usually costs, in whole currency units: a price is drawn around it (within the
# category's range), so a water bottle never costs as much as a tent.
_TYPICAL_UNITS = {
    "Running Shoes": 120, "Trail Sneakers": 135, "Hiking Boots": 170, "Chelsea Boots": 160, "Loafers": 110,
    "Sandals": 60, "T-Shirt": 25, "Hoodie": 65, "Rain Jacket": 110, "Chinos": 70, "Crewneck Sweater": 90,
    "Running Shorts": 35, "Backpack": 95, "Tote Bag": 45, "Messenger Bag": 120, "Bifold Wallet": 45, "Belt": 40,
    "Duffel Bag": 110, "Café Espresso Beans": 16, "Whole Bean Coffee": 15, "Ground Coffee": 11,
    "Cold Brew Concentrate": 14, "Green Tea": 9, "Masala Chai": 10, "Café au Lait Pods": 8, "Croissant": 4,
    "Crème Brûlée": 7, "Sourdough Loaf": 7, "Pain au Chocolat": 4, "Éclair": 6, "Macarons": 16,
    "Jalapeño Hot Sauce": 7, "Extra Virgin Olive Oil": 16, "Açaí Bowl Mix": 12, "Wildflower Honey": 10,
    "Peanut Butter": 6, "Fusilli Pasta": 4, "Maple Syrup": 13, "French Press": 40, "Chef's Knife": 120,
    "Cast Iron Skillet": 55, "Stoneware Mug": 18, "Cutting Board": 60, "Dutch Oven": 180, "Wireless Earbuds": 130,
    "Bluetooth Speaker": 90, "USB-C Charger": 40, "Power Bank": 50, "Smart Watch": 250,
    "Noise-Cancelling Headphones": 280, "Mechanical Keyboard": 140, "Yoga Mat": 45, "Water Bottle": 30,
    "Two-Person Tent": 320, "Sleeping Bag": 190, "Trekking Poles": 80, "Headlamp": 40, "Shampoo": 14,
    "Hand Cream": 12, "Lip Balm": 6, "Face Serum": 38, "Bar Soap": 8, "Sunscreen SPF 50": 18,
}

_BRANDS = (
    "Über", "Nordlys", "Montaña", "Zephyr", "Lumière", "Kettle & Co", "Northfield", "Bluebird", "Atlas",
    "Ironwood", "Saltwater", "Café Olé", "Maison Brûlée", "Kōyō", "Fjällmark", "Outpost", "Marigold", "Halcyon",
)

_CATEGORY_NAMES = {c.id: c.name for c in CATEGORIES}


def categories() -> list[dict[str, str]]:
    return [{"id": c.id, "name": c.name} for c in CATEGORIES]


def category_name(category_id: str) -> str:
    """The name of a category; KeyError for an unknown id."""
    return _CATEGORY_NAMES[category_id]


def products(n: int, seed: int = 0) -> list[dict[str, Any]]:
    """`n` products: `sku` (unique, ^[A-Z0-9][A-Z0-9_.-]{0,63}$), `title`, `description`, `price_q`, `category_id`.

    Categories take turns so even a small catalog covers them all; everything else is drawn from `seed`.
    """
    if n < 0:
        raise ValueError("n must be >= 0")
    rng = random.Random(seed)
    # Bound methods: this loop runs 10,000 times for the benchmark catalog.
    choice, randint, rand = rng.choice, rng.randint, rng.random
    result: list[dict[str, Any]] = []
    for i in range(n):
        cat = CATEGORIES[i % len(CATEGORIES)]
        item = choice(cat.items)
        brand, qualifier = choice(_BRANDS), choice(item.qualifiers)
        title = f"{brand} {qualifier} {item.noun}"
        if cat.colours and rand() < 0.7:
            title += f", {choice(_COLOURS)}"
        if item.variants:
            title += f" ({choice(item.variants)})" if cat.colours else f", {choice(item.variants)}"
        description = f"{qualifier} {item.noun} from {brand}, with {choice(item.features)}."
        if rand() < 0.75:
            description += " " + choice(cat.closers)
        # Whole units ending in .99 or .49, around the item's usual price and within the category's range.
        typical = _TYPICAL_UNITS[item.noun]
        units = randint(max(cat.min_price_q // 100, typical * 7 // 10), min(cat.max_price_q // 100, typical * 14 // 10))
        price_q = units * 100 + (99 if rand() < 0.8 else 49)
        result.append({
            "sku": f"{cat.sku_prefix}-{i + 1:06d}",
            "title": title,
            "description": description,
            "price_q": price_q,
            "category_id": cat.id,
        })
    return result


def stores() -> list[dict[str, str]]:
    """Three stores: `code` (a lower-case store code), `name`, `location`."""
    return [
        {"code": "main", "name": "Main Street Flagship", "location": "120 Main Street, Springfield"},
        {"code": "riverside", "name": "Riverside Market", "location": "8 Quay Road, Riverside"},
        {"code": "airport", "name": "Airport Express", "location": "Terminal 2, Gate B, Springfield Airport"},
    ]


def stock(products: Sequence[dict[str, Any]], stores: Sequence[dict[str, str]], seed: int = 0) -> list[dict[str, Any]]:
    """One row per (store, product): `store_code`, `sku`, `on_hand` (int), `reorder_level` (int).

    About one row in ten is out of stock and one in six is low (above zero, below its reorder level), so
    availability filters and low-stock reports have something to show.
    """
    rng = random.Random(seed * 7919 + 17)
    rows: list[dict[str, Any]] = []
    for store in stores:
        for product in products:
            reorder_level = rng.choice((5, 10, 10, 20, 25))
            roll = rng.random()
            if roll < 0.1:
                on_hand = 0
            elif roll < 0.27:
                on_hand = rng.randint(1, reorder_level - 1)
            else:
                on_hand = rng.randint(reorder_level, reorder_level + 120)
            rows.append({
                "store_code": store["code"],
                "sku": product["sku"],
                "on_hand": on_hand,
                "reorder_level": reorder_level,
            })
    return rows
