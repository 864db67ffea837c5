"""The journey ``bench.segment_latency`` times: enters on the cart-abandoners segment.

A module of its own, so the workflow sandbox imports nothing but the journey runtime.
"""

from workflows import Journey, days, journey


@journey(name="bench_cart", segment="cart_abandoners")
class CartProbe(Journey):
    """Enters on the cart-abandoners segment, then waits."""

    async def steps(self) -> None:
        await self.sleep(days(30))
