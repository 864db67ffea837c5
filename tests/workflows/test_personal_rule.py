"""The personal-data rule on its own: spellings, depth and values."""

from __future__ import annotations

import pytest

from workflows.models import Event
from workflows.personal import is_personal_key, is_personal_value, strip_personal


@pytest.mark.parametrize(
    "key",
    [
        "email", "Email", "EMAIL", "e-mail", "E_Mail", "user_email", "userEmail", "useremail",
        "emailAddress", "mail", "phone", "phone_number", "phoneNumber", "Mobile", "tel",
        "name", "Name", "first_name", "firstName", "FirstName", "lastname", "last-name",
        "full_name", "Full Name", "surname", "user_name", "address", "billing_address",
        "street", "zip", "postcode", "postalCode", "ip", "IPAddress", "ssn", "birthday", "dob",
        "date_of_birth", "password", "token", "first", "last",
    ],
)  # fmt: skip
def test_personal_keys_in_any_spelling(key: str) -> None:
    assert is_personal_key(key)


@pytest.mark.parametrize(
    "key",
    ["email_id", "journey", "step", "topic", "segment", "product_name", "campaign_name",
     "revenue", "plan", "sku", "shipping", "recipe", "category", "order_id", "url"],
)  # fmt: skip
def test_keys_journeys_read_are_kept(key: str) -> None:
    assert not is_personal_key(key)


@pytest.mark.parametrize(
    "value",
    ["ada@example.com", "Write to Ada.Lovelace+x@mail.example.org", "+33 6 12 34 56 78",
     "+15550104477", "(555) 010-4477", "555-010-4477", "06 12 34 56 78", "0612345678"],
)  # fmt: skip
def test_personal_values(value: str) -> None:
    assert is_personal_value(value)


@pytest.mark.parametrize(
    "value",
    ["2024-03-01", "2024-03-01T10:00:00Z", "19.99", "1234567.89", "order-123456", "SKU-77",
     "A1B2C3", "12345678", "https://shop.example.com/p/42", 4155550100, "pro"],
)  # fmt: skip
def test_values_that_are_not_personal(value: object) -> None:
    assert not is_personal_value(value)


def test_nested_objects_and_lists_are_cleaned_at_every_depth() -> None:
    properties = {
        "customer": {"email": "a@b.example", "name": "Ada", "tier": "gold"},
        "items": [{"sku": "S1", "owner": {"phone": "1"}}, "a@b.example", "keep"],
        "plan": "pro",
    }
    assert strip_personal(properties) == {
        "customer": {"tier": "gold"},
        "items": [{"sku": "S1", "owner": {}}, "keep"],
        "plan": "pro",
    }


def test_an_event_without_personal_data_is_returned_as_it_is() -> None:
    event = Event(message_id="m", name="Order Completed", properties={"revenue": 42})
    assert event.without_personal_data() is event
    dirty = Event(message_id="m", name="Signed Up", properties={"Email": "a@b.example"})
    assert dirty.without_personal_data().properties == {}
