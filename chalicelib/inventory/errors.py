"""What the stock backend refuses with: one error per outcome a caller must tell apart."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal

from ..domain.errors import Conflict, InvalidInput, Unprocessable
from .models import Shortage, StockLevel


class InsufficientStock(Conflict):
    """Some skus cannot be held: nothing was reserved. `.shortages` names each short sku."""

    code = "insufficient_stock"

    def __init__(self, shortages: Sequence[Shortage]):
        self.shortages = list(shortages)
        described = "; ".join(f"{s.sku}: requested {s.requested}, available {s.available}" for s in self.shortages)
        super().__init__(f"insufficient stock: {described}",
                         details={"shortages": [s.model_dump(mode="json") for s in self.shortages]})


class UnknownSku(Unprocessable):
    """No stock row exists for these skus in the store: nothing was reserved."""

    code = "unknown_sku"

    def __init__(self, store_code: str, skus: Iterable[str]):
        self.store_code = store_code
        self.skus = sorted(set(skus))
        super().__init__(f"store {store_code!r} stocks no {', '.join(self.skus)}",
                         details={"store_code": store_code, "skus": self.skus})


class TooManySkus(InvalidInput):
    """More distinct skus than one transaction can hold atomically."""

    code = "too_many_skus"


class HoldsCommitted(Conflict):
    """The owner's holds already became an order (or were put back): they cannot be held or committed again."""

    code = "holds_committed"

    def __init__(self, owner: str, order_ref: str | None):
        super().__init__(f"the holds of {owner!r} are already committed to order {order_ref!r}",
                         details={"owner": owner, "order_ref": order_ref})


class LapsedHoldUnavailable(Conflict):
    """A hold lapsed before commit and its stock went elsewhere: nothing of the order was deducted."""

    code = "hold_lapsed"

    def __init__(self, order_ref: str, shortages: Sequence[Shortage]):
        self.order_ref = order_ref
        self.shortages = list(shortages)
        described = "; ".join(f"{s.sku}: needs {s.requested}, available {s.available}" for s in self.shortages)
        super().__init__(f"order {order_ref!r}: lapsed holds cannot be covered: {described}",
                         details={"order_ref": order_ref,
                                  "shortages": [s.model_dump(mode="json") for s in self.shortages]})


class BelowReserved(Conflict):
    code = "below_reserved"

    def __init__(self, level: StockLevel, on_hand: Decimal):
        super().__init__(
            f"on_hand {on_hand} is below the {level.reserved} reserved by live holds",
            details={"store_code": level.store_code, "sku": level.sku, "on_hand": on_hand,
                     "reserved": level.reserved},
        )


class StaleHoldRequest(Conflict):
    """A newer hold set (a higher fence) exists already: this late request changed nothing."""

    code = "stale_hold_request"

    def __init__(self, owner: str, fence: int, current: int):
        super().__init__(f"{owner!r} already holds for fence {current}, newer than {fence}",
                         details={"owner": owner, "fence": fence, "current_fence": current})
