"""`client.notify` for contact methods: how a person is paged by an escalation (an
e-mail through an e-mail channel, a Slack DM through a Slack channel in bot mode). Your
own, or (organisation admins) anyone's, named by e-mail."""

from __future__ import annotations

from urllib.parse import quote

from loom.client.notify_base import NotifyBase, body
from loom.client.notify_models import ContactMethod

CONTACTS = "/notify/contact-methods"


class ContactsApi(NotifyBase):
    def contact_methods(self, *, user: str | None = None) -> list[ContactMethod]:
        """Your contact methods (or `user`'s, an e-mail: admins), in paging order."""
        return self._core.get_list(CONTACTS, ContactMethod, params={"user": user})

    def create_contact_method(
        self, kind: str, address: str, channel: str, *, user: str | None = None,
        position: int | None = None,
    ) -> ContactMethod:  # fmt: skip
        """`kind` "email" (an address) or "slack" (a member id like U0123ABC), carried
        by `channel` (name or id); for `user` (an e-mail; admins), else for you."""
        sent = body(kind=kind, address=address, channel=channel, user=user, position=position)
        return self._core.post(CONTACTS, ContactMethod, json=sent, ok=(201,))

    def delete_contact_method(self, method: str) -> None:
        """Remove a contact method (by id)."""
        self._core.request("DELETE", f"{CONTACTS}/{quote(method, safe='')}", ok=(204,))
