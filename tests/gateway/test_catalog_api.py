"""``POST /v1/catalog/products`` over a real HTTP gateway (uvicorn on 127.0.0.1)."""

from __future__ import annotations

import gzip
import json
from collections.abc import AsyncIterator

import httpx
import pytest

from gateway.app import create_app
from store import Store
from tests.gateway.conftest import FakeRouter, served
from tests.ports import free_port
from worker.settings import Settings

PATH = "/v1/catalog/products"
CAMERA = {
    "id": "cam-1",
    "name": "Reflex 24 MP",
    "url": "https://shop.example/cam-1",
    "image": "https://shop.example/cam-1.jpg",
    "price": 899.0,
    "currency": "EUR",
    "prices": [{"amount": 949.0, "currency": "USD"}],
    "category": "cameras",
    "stock": 3,
    "related": ["lens-50", "bag-s"],
    "alternatives": ["cam-2"],
}


@pytest.fixture
async def http(settings: Settings, store: Store) -> AsyncIterator[httpx.AsyncClient]:
    """A client on the gateway served by uvicorn on a free port, on the test's store."""
    settings = settings.model_copy(
        update={"gateway_port": free_port(), "relay_interval_seconds": 0.05}
    )
    app = create_app(settings, store=store, router_factory=FakeRouter().factory())
    async with served(settings, app) as client:
        yield client


async def test_products_are_created_then_a_stock_update_changes_only_the_stock(
    http: httpx.AsyncClient, store: Store
) -> None:
    response = await http.post(PATH, json={"products": [CAMERA]})
    assert response.status_code == 200, response.text
    assert response.json() == {"created": 1, "updated": 0, "refused": []}
    response = await http.post(PATH, json={"products": [{"id": "cam-1", "stock": 0}]})
    assert response.json()["updated"] == 1
    cam = await store.catalog.get("cam-1")
    assert cam is not None
    assert (cam.name, cam.price, cam.stock, cam.in_stock) == ("Reflex 24 MP", 899.0, 0, False)
    assert cam.related == ["lens-50", "bag-s"] and cam.alternatives == ["cam-2"]


async def test_gzip_bodies_are_read(http: httpx.AsyncClient, store: Store) -> None:
    body = gzip.compress(json.dumps({"products": [CAMERA]}).encode())
    response = await http.post(
        PATH,
        content=body,
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
    assert response.status_code == 200, response.text
    assert await store.catalog.get("cam-1") is not None


async def test_a_bad_field_is_a_422_naming_it_and_nothing_is_stored(
    http: httpx.AsyncClient, store: Store
) -> None:
    bad = {"products": [CAMERA, {**CAMERA, "id": "cam-2", "price": -5}]}
    response = await http.post(PATH, json=bad)
    assert response.status_code == 422
    assert response.json()["field"] == "products.1.price"
    assert await store.catalog.count() == 0
    response = await http.post(PATH, json={"products": [{**CAMERA, "currency": "euro"}]})
    assert (response.status_code, response.json()["field"]) == (422, "products.0.currency")
    response = await http.post(PATH, json={"items": []})
    assert response.status_code == 422


async def test_an_unknown_product_without_a_name_is_listed_the_others_stored(
    http: httpx.AsyncClient, store: Store
) -> None:
    response = await http.post(PATH, json={"products": [{"id": "ghost", "stock": 2}, CAMERA]})
    assert response.status_code == 200
    body = response.json()
    assert body["created"] == 1
    assert body["refused"] == [
        {
            "index": 0,
            "id": "ghost",
            "field": "products.0.name",
            "reason": "a product the catalog does not know needs a name",
        }
    ]


async def test_the_write_key_is_required(http: httpx.AsyncClient, store: Store) -> None:
    response = await http.post(PATH, json={"products": [CAMERA]}, auth=None)
    assert response.status_code == 401
    response = await http.post(PATH, json={"products": [CAMERA]}, auth=httpx.BasicAuth("wrong", ""))
    assert response.status_code == 401
    assert await store.catalog.count() == 0


async def test_the_operation_is_documented(http: httpx.AsyncClient) -> None:
    doc = (await http.get("/openapi.json")).json()
    operation = doc["paths"][PATH]["post"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    product = schema["properties"]["products"]["items"]
    assert {"id", "price", "stock", "related", "alternatives", "plan_tier"} <= set(
        product["properties"]
    )
    assert {"200", "401", "413", "422"} <= set(operation["responses"])
