"""End to end: a shop feeds the catalog and a cart over HTTP, the cart journey offers the
out-of-stock item's alternative. A real gateway (uvicorn on 127.0.0.1) and its relay, the real
worker activities and store, Temporal's time-skipping server so the hour passes at once."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from gateway.app import create_app
from tests.gateway.conftest import served
from tests.ports import free_port
from tests.workflows.conftest import Harness
from worker.settings import Settings
from workflows import hours, minutes


async def test_an_out_of_stock_cart_item_is_offered_as_its_alternative(
    make_harness: Callable[..., AbstractAsyncContextManager[Harness]], settings: Settings
) -> None:
    async with make_harness() as h:
        settings = settings.model_copy(
            update={"gateway_port": free_port(), "relay_interval_seconds": 0.05}
        )

        async def router() -> object:
            return h.router

        app = create_app(settings, store=h.store, router_factory=router)  # type: ignore[arg-type]
        async with served(settings, app) as http:
            catalog = {
                "products": [
                    {
                        "id": "boots-red",
                        "name": "Bottes rouges",
                        "price": 120.0,
                        "currency": "EUR",
                        "stock": 0,
                        "alternatives": ["boots-black"],
                    },
                    {
                        "id": "boots-black",
                        "name": "Bottes noires",
                        "price": 115.0,
                        "currency": "EUR",
                        "stock": 6,
                    },
                ]
            }
            assert (await http.post("/v1/catalog/products", json=catalog)).status_code == 200
            identify = {
                "userId": h.contact,
                "traits": {"email": "lea@example.com", "locale": "fr"},
            }
            assert (await http.post("/v1/identify", json=identify)).status_code == 200
            track = {
                "userId": h.contact,
                "event": "Product Added",
                "properties": {"product_id": "boots-red", "price": 120.0, "quantity": 1},
            }
            assert (await http.post("/v1/track", json=track)).status_code == 200
            await h.until(lambda: h.running("cart_abandonment"), "the cart journey")
            await h.skip(hours(1) + minutes(5))

            async def reminded() -> bool:
                return "cart/reminder" in await h.sent_templates()

            await h.until(reminded, "the cart reminder")
            [message] = [m for m in await h.messages() if m.template == "cart/reminder"]
            text = (message.text or "").replace("\xa0", " ")
            assert "Bottes noires" in text and "115,00 €" in text
            assert "remplace Bottes rouges, en rupture de stock" in text
            assert message.subject and "panier" in message.subject
